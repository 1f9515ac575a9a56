"""The Business Central API v2.0 routes: companies and item ledger entries, with OData and paging,
their ``/$count``, and ``$metadata``."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, unquote

from .asgi import Reply, Request
from .environments import Environments
from .errors import ApiError
from .metadata import XML_TYPE, edmx
from .odata_filter import ODataError, SqlCondition
from .odata_query import (
    COLLECTION_OPTIONS,
    COUNT_OPTIONS,
    ENTITY_OPTIONS,
    QueryOptions,
    count_query,
    encode_skiptoken,
    page_query,
    parse_options,
)
from .routes import COUNT_SUFFIX, METADATA, Route
from .schema import COMPANIES, COMPANY_SCOPED, GUID, ITEM_LEDGER_ENTRIES, EntitySet
from .store import Company, Store

MAX_PAGE_SIZE = 20_000
TEXT_TYPE = "text/plain; charset=utf-8"
_EVERYTHING = SqlCondition("1 = 1", (), frozenset())


def _guid(key: str) -> str:
    """A key from the URL as a lower-case GUID, or a 400 as BC answers for a malformed key."""
    if not GUID.fullmatch(key):
        raise ApiError(400, "BadRequest_InvalidToken", f"The key value '{key}' is not a valid GUID.")
    return key.lower()


def _company_not_found(key: str) -> ApiError:
    return ApiError(404, "Internal_CompanyNotFound", f"Cannot find the company '{key}'.")


def _query_params(query_string: str) -> dict[str, str]:
    """Decoded query parameters; a system query option may appear only once."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        if name in params and name.startswith("$"):
            raise ApiError(400, "BadRequest_InvalidRequestUrl", f"Query option '{name}' was specified more than once.")
        params[name] = value
    return params


def _page_size(prefer: str | None) -> tuple[int, bool]:
    """The page size for a ``Prefer`` header, and whether its ``odata.maxpagesize`` was honoured."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.strip().partition("=")
        value = value.strip().strip('"')
        if name.strip().lower() in ("odata.maxpagesize", "maxpagesize") and value.isdigit() and int(value) > 0:
            return min(int(value), MAX_PAGE_SIZE), True
    return MAX_PAGE_SIZE, False


class BusinessCentralApi:
    """Answers GET requests on companies and item ledger entries from each environment's data, and ``$metadata``."""

    def __init__(self, environments: Environments, base_url: str) -> None:
        self.environments = environments
        self.base_url = base_url
        self.metadata = edmx(COMPANIES, COMPANY_SCOPED)

    def answer(self, route: Route, request: Request) -> Reply:
        """The reply for an authenticated, admitted request on a BC API route."""
        if request.method != "GET":
            raise ApiError(405, "BadRequest_MethodNotAllowed", f"The '{request.method}' method is not allowed.")
        if route.environment not in self.environments.names:
            raise ApiError(404, "BadRequest_ResourceNotFound", f"The environment '{route.environment}' does not exist.")
        params = _query_params(request.query_string)
        try:
            if route.name == METADATA:
                return Reply(200, self.metadata, {"Content-Type": XML_TYPE})
            store = self.environments.get(route.environment).store
            if route.name.startswith("companies"):  # the collection or its /$count
                return self._collection(store, request, route, COMPANIES, _EVERYTHING, "companies", params)
            if route.name == "company":
                key = _guid(route.company_key or "")
                scope = SqlCondition("id = ?", (key,), frozenset())
                return self._entity(store, route, COMPANIES, scope, "companies", params, _company_not_found(key))
            company = self._company_of(store, route, params)
            context = f"companies({company.id})/itemLedgerEntries"
            scope = SqlCondition("company_id = ?", (company.id,), frozenset())
            if route.key is None:
                return self._collection(store, request, route, ITEM_LEDGER_ENTRIES, scope, context, params)
            key = _guid(route.key)
            scope = SqlCondition("company_id = ? AND id = ?", (company.id, key), frozenset())
            missing = ApiError(
                404,
                "Internal_RecordNotFound",
                f"The Item Ledger Entry does not exist. Identification fields and values: Id='{key}'",
            )
            return self._entity(store, route, ITEM_LEDGER_ENTRIES, scope, context, params, missing)
        except ODataError as exc:
            raise ApiError(400, exc.code, str(exc)) from exc

    @staticmethod
    def _company(store: Store, key: str) -> Company:
        company = store.company(key)
        if company is None:
            raise _company_not_found(key)
        return company

    def _company_of(self, store: Store, route: Route, params: dict[str, str]) -> Company:
        """The company of an item ledger entries request: from ``companies(id)/`` or ``?company=``."""
        if route.company_key is not None:
            return self._company(store, _guid(route.company_key))
        if "company" not in params:
            raise ApiError(
                404,
                "Internal_CompanyNotFound",
                "Cannot process the request because the default company cannot be found. Add a query string "
                'in the form of "company=[name or id]", or use companies({id}) in the URL.',
            )
        key = params["company"]
        return self._company(store, key.lower() if GUID.fullmatch(key) else key)

    def _context(self, route: Route, context: str, options: QueryOptions, suffix: str = "") -> bytes:
        if options.select is not None:
            context += "(" + ",".join(f.name for f in options.select) + ")"
        return json.dumps(f"{self.base_url}{route.root}/$metadata#{context}{suffix}").encode()

    def _collection(
        self,
        store: Store,
        request: Request,
        route: Route,
        entity_set: EntitySet,
        scope: SqlCondition,
        context: str,
        params: dict[str, str],
    ) -> Reply:
        if route.name.endswith(COUNT_SUFFIX):
            count = self._count(store, entity_set, scope, parse_options(entity_set, params, COUNT_OPTIONS))
            return Reply(200, str(count).encode(), {"Content-Type": TEXT_TYPE})
        options = parse_options(entity_set, params, COLLECTION_OPTIONS)
        page_size, honoured = _page_size(request.headers.get("prefer"))
        limit = page_size + 1 if options.top is None else min(options.top, page_size)
        query = page_query(entity_set, options, scope, limit)
        rows = store.fetch(query.sql, query.params)
        parts = [b'{"@odata.context":', self._context(route, context, options)]
        if options.count:  # all the rows that match, on every page
            parts.append(b',"@odata.count":%d' % self._count(store, entity_set, scope, options))
        parts.append(b',"value":[')
        parts.append(b",".join(row[0] for row in rows[:page_size]))
        parts.append(b"]")
        if len(rows) > page_size:
            link = self._next_link(request, encode_skiptoken(rows[page_size - 1][1:]))
            parts += [b',"@odata.nextLink":', json.dumps(link).encode()]
        parts.append(b"}")
        headers = {"Preference-Applied": f"odata.maxpagesize={page_size}"} if honoured else {}
        return Reply(200, b"".join(parts), headers)

    @staticmethod
    def _count(store: Store, entity_set: EntitySet, scope: SqlCondition, options: QueryOptions) -> int:
        query = count_query(entity_set, options, scope)
        ((count,),) = store.fetch(query.sql, query.params)
        return int(count)

    def _entity(
        self,
        store: Store,
        route: Route,
        entity_set: EntitySet,
        scope: SqlCondition,
        context: str,
        params: dict[str, str],
        missing: ApiError,
    ) -> Reply:
        options = parse_options(entity_set, params, ENTITY_OPTIONS)
        query = page_query(entity_set, options, scope, 1)
        rows = store.fetch(query.sql, query.params)
        if not rows:
            raise missing
        context_json = self._context(route, context, options, "/$entity")
        return Reply(200, b'{"@odata.context":' + context_json + b"," + rows[0][0][1:])

    def _next_link(self, request: Request, skiptoken: str) -> str:
        """The request URL with its query options (minus $skip/$skiptoken) plus the new $skiptoken."""
        kept = [
            part
            for part in request.query_string.split("&")
            if part and unquote(part.partition("=")[0]) not in ("$skip", "$skiptoken")
        ]
        query = "&".join([*kept, f"$skiptoken={skiptoken}"])
        return f"{self.base_url}{request.path}?{query}"
