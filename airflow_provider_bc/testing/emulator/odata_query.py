"""OData system query options (``$filter $select $orderby $top $skip $skiptoken $count``) to SQL queries.

Paging is keyset-based: ``$skiptoken`` carries the last row's ordering values plus the entity
set's unique tiebreak column, so a page never shifts when rows are added before it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .odata_filter import UNSUPPORTED, ODataError, SqlCondition, compile_filter
from .schema import EntitySet, Field, json_object_sql

COLLECTION_OPTIONS = frozenset({"$filter", "$select", "$orderby", "$top", "$skip", "$skiptoken", "$count"})
ENTITY_OPTIONS = frozenset({"$select"})
COUNT_OPTIONS = frozenset({"$filter"})  # of a ``.../$count`` request


@dataclass(frozen=True)
class QueryOptions:
    """The validated query options of one request."""

    where: SqlCondition | None = None
    select: tuple[Field, ...] | None = None
    order: tuple[tuple[Field, bool], ...] = ()  # (field, descending)
    top: int | None = None
    skip: int = 0
    after: tuple[Any, ...] | None = None  # the keyset position decoded from $skiptoken
    count: bool = False  # $count=true: every page tells how many rows match (@odata.count)


@dataclass(frozen=True)
class PageQuery:
    """A SELECT: of a page, rows of (entity JSON bytes, *ordering values for the next $skiptoken);
    of a count, one row holding the count."""

    sql: str
    params: tuple[Any, ...]


def _fields(entity_set: EntitySet, names: str, option: str) -> list[tuple[Field, str]]:
    """Split a comma-separated option value into (field, rest-of-item) pairs."""
    items = []
    for item in names.split(","):
        name, _, rest = item.strip().partition(" ")
        field = entity_set.field(name)
        if field is None:
            raise ODataError(
                f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity_set.name}' (in {option})."
            )
        items.append((field, rest.strip()))
    return items


def _count(value: str, option: str) -> int:
    if not value.isdigit():
        raise ODataError(f"Invalid value '{value}' for {option}: a non-negative integer is expected.")
    return int(value)


def encode_skiptoken(values: Sequence[Any]) -> str:
    """The opaque ``$skiptoken`` for a keyset position."""
    text = base64.urlsafe_b64encode(json.dumps(list(values), separators=(",", ":")).encode()).decode()
    return text.rstrip("=")


def _decode_skiptoken(token: str, width: int) -> tuple[Any, ...]:
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError as exc:  # bad base64, UTF-8 or JSON
        raise ODataError("The $skiptoken is not valid.", "BadRequest_InvalidToken") from exc
    if not isinstance(values, list) or len(values) != width:
        raise ODataError("The $skiptoken does not match this query.", "BadRequest_InvalidToken")
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
        raise ODataError("The $skiptoken is not valid.", "BadRequest_InvalidToken")
    return tuple(values)


def parse_options(entity_set: EntitySet, params: dict[str, str], allowed: frozenset[str]) -> QueryOptions:
    """Validate the ``$`` options of a request (other parameters are ignored)."""
    for name in params:
        if name.startswith("$") and name not in allowed:
            raise ODataError(f"The query option '{name}' is not supported here.", UNSUPPORTED)
    select = None
    if "$select" in params:
        chosen = _fields(entity_set, params["$select"], "$select")
        if any(rest for _, rest in chosen):
            raise ODataError(f"Invalid $select value '{params['$select']}'.")
        select = tuple(dict.fromkeys(field for field, _ in chosen))
    order = []
    if "$orderby" in params:
        for field, direction in _fields(entity_set, params["$orderby"], "$orderby"):
            if direction not in ("", "asc", "desc"):
                raise ODataError(f"Invalid $orderby direction '{direction}' for '{field.name}'.")
            order.append((field, direction == "desc"))
    top = _count(params["$top"], "$top") if "$top" in params else None
    skip = _count(params["$skip"], "$skip") if "$skip" in params else 0
    after = _decode_skiptoken(params["$skiptoken"], len(order) + 1) if "$skiptoken" in params else None
    where = compile_filter(entity_set, params["$filter"]) if "$filter" in params else None
    count = params.get("$count", "false")
    if count not in ("true", "false"):
        raise ODataError(f"Invalid value '{count}' for $count: 'true' or 'false' is expected.")
    return QueryOptions(where, select, tuple(order), top, skip, after, count == "true")


def _matching(options: QueryOptions, scope: SqlCondition) -> list[SqlCondition]:
    """The conditions of the rows ``options`` ask for within ``scope``, whatever the page."""
    return [scope] + ([options.where] if options.where else [])


def count_query(entity_set: EntitySet, options: QueryOptions, scope: SqlCondition) -> PageQuery:
    """The SELECT counting the rows of ``entity_set`` within ``scope`` that match ``options.where``."""
    conditions = _matching(options, scope)
    where = " AND ".join(c.sql for c in conditions)
    # Only identifiers from the schema and "?" placeholders are formatted in; values are parameters.
    sql = f"SELECT COUNT(*) FROM {entity_set.table} WHERE {where}"  # noqa: S608
    return PageQuery(sql, tuple(p for c in conditions for p in c.params))


def page_query(entity_set: EntitySet, options: QueryOptions, scope: SqlCondition, limit: int) -> PageQuery:
    """The SELECT for one page of ``entity_set`` rows within ``scope``, after ``options.after``."""
    sort = [(field.sort_column, descending) for field, descending in options.order]
    sort.append((entity_set.tiebreak, False))
    payload = "json" if options.select is None else json_object_sql(options.select)
    conditions = _matching(options, scope)
    if options.after is not None:
        conditions.append(_after(sort, options.after))
    where = " AND ".join(c.sql for c in conditions)
    order = ", ".join(f"{column} {'DESC' if descending else 'ASC'}" for column, descending in sort)
    columns = ", ".join(column for column, _ in sort)
    # Only identifiers from the schema and "?" placeholders are formatted in; values are parameters.
    sql = f"SELECT {payload}, {columns} FROM {entity_set.table} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"  # noqa: S608
    params = (*(p for c in conditions for p in c.params), limit, options.skip)
    return PageQuery(sql, params)


def _after(sort: list[tuple[str, bool]], values: tuple[Any, ...]) -> SqlCondition:
    """Rows strictly after ``values`` in the ``sort`` order (lexicographic keyset comparison)."""
    clauses: list[str] = []
    params: list[Any] = []
    for index, (column, descending) in enumerate(sort):
        equal = [f"{c} = ?" for c, _ in sort[:index]]
        clauses.append("(" + " AND ".join([*equal, f"{column} {'<' if descending else '>'} ?"]) + ")")
        params.extend(values[: index + 1])
    return SqlCondition("(" + " OR ".join(clauses) + ")", tuple(params), frozenset())
