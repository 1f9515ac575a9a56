"""The requests behind each client method (URL, query options, context), for the sync and async clients."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError
from airflow_provider_bc.client.odata.filters import query_options
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.values import CompanyId, EntitySet


@dataclass(frozen=True)
class Query:
    """One GET (or, with a ``body``, a POST of JSON: a ``$batch``): where, with which query options and
    ``headers``, and how to describe it in an error. ``operations``: how many API operations it carries,
    each counted against the principal's request window (a ``$batch``'s, one each).

    With ``missing_ok``, a 404 saying the entity is absent (not its company or environment)
    reads as an empty collection instead of raising. With ``exact_numbers``, decimals in the
    answer are read as :class:`decimal.Decimal` (the API's number text kept), not as floats.
    ``decode`` reads a JSON answer's body instead of ``json.loads`` (a collection's ``value`` may
    then be :class:`~.paging.DecodedEntities`: kept as text, as columns ...).
    With ``document``, the answer is an XML document (``$metadata``), read as ``{"document": <text>}``.
    """

    url: str
    params: dict[str, str] = field(default_factory=dict)
    context: str = "GET"
    missing_ok: bool = False
    exact_numbers: bool = False
    decode: Callable[[bytes], Any] | None = None
    document: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    operations: int = 1


def collection_query(
    urls: ApiUrls,
    entity_set: EntitySet,
    company_id: CompanyId | None,
    *,
    filter: str | None = None,
    select: Iterable[str] | str | None = None,
    orderby: Iterable[str] | str | None = None,
    top: int | None = None,
    exact_numbers: bool = False,
    decode: Callable[[bytes], Any] | None = None,
) -> Query:
    """GET a company's collection with query options."""
    company = urls.company_id(company_id)
    return Query(
        urls.entity_set(entity_set, company),
        query_options(filter=filter, select=select, orderby=orderby, top=top),
        f"GET {entity_set} of company {company}" + (f" where {filter}" if filter else ""),
        exact_numbers=exact_numbers,
        decode=decode,
    )


def lookup_query(urls: ApiUrls, lookup: Lookup, *, missing_ok: bool = True) -> Query:
    """GET for a :class:`Lookup`: the entity by id, or the first ``top`` entities matching its filter."""
    if lookup.entity_id is None:
        return collection_query(
            urls, lookup.entity_set, lookup.company_id, filter=lookup.filter, select=lookup.select, top=lookup.top
        )
    company = urls.company_id(lookup.company_id)
    return Query(
        urls.entity(lookup.entity_set, lookup.entity_id, company),
        query_options(select=lookup.select),
        f"GET {lookup.entity_set}({lookup.entity_id}) of company {company}",
        missing_ok=missing_ok,
    )


def count_query(urls: ApiUrls, entity_set: EntitySet, company_id: CompanyId | None, filter: str | None) -> Query:
    """GET one row's id and ``@odata.count``: how many rows match ``filter`` (for progress, not correctness)."""
    query = collection_query(urls, entity_set, company_id, filter=filter, select=["id"], top=1)
    return replace(
        query, params={**query.params, "$count": "true"}, context=f"COUNT {query.context.removeprefix('GET ')}"
    )


def count_of(payload: dict[str, Any], context: str) -> int:
    """The ``@odata.count`` of an answer, checked to be a count."""
    count = payload.get("@odata.count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise BusinessCentralBadAnswerError(f"{context}: the answer's @odata.count is not a count: {count!r}")
    return count


def entities_of(payload: dict[str, Any], context: str) -> list[dict[str, Any]]:
    """The entities of a collection's answer (its ``value``), checked to be a list of objects."""
    value = payload.get("value")
    if not isinstance(value, list) or not all(isinstance(entity, dict) for entity in value):
        raise BusinessCentralBadAnswerError(
            f"{context}: the answer's 'value' is not a list of entities: {str(value)[:120]!r}"
        )
    return value


def found_entities(payload: dict[str, Any], context: str) -> list[dict[str, Any]]:
    """The entities of an answer: a collection's ``value``, or the single entity itself."""
    return entities_of(payload, context) if "value" in payload else [payload]
