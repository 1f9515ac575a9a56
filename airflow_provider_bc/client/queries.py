"""The GETs behind each client method (URL, query options, context), for the sync and async clients."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_bc.client.odata import query_options
from airflow_provider_bc.client.urls import ApiUrls

ITEM_LEDGER_ENTRIES = "itemLedgerEntries"


@dataclass(frozen=True)
class Query:
    """One GET: where, with which query options, and how to describe it in an error.

    With ``missing_ok``, a 404 saying the entity is absent (not its company or environment)
    reads as an empty collection instead of raising.
    """

    url: str
    params: dict[str, str] = field(default_factory=dict)
    context: str = "GET"
    missing_ok: bool = False


def entity_query(
    urls: ApiUrls,
    entity_set: str,
    entity_id: object,
    company_id: str | None,
    select: Iterable[str] | str | None,
) -> Query:
    """GET one entity by id."""
    company = urls.company_id(company_id)
    return Query(
        urls.entity(entity_set, entity_id, company),
        query_options(select=select),
        f"GET {entity_set}({entity_id}) of company {company}",
    )


def collection_query(
    urls: ApiUrls,
    entity_set: str,
    company_id: str | None,
    *,
    filter: str | None = None,
    select: Iterable[str] | str | None = None,
    orderby: Iterable[str] | str | None = None,
    top: int | None = None,
) -> Query:
    """GET a company's collection with query options."""
    company = urls.company_id(company_id)
    return Query(
        urls.entity_set(entity_set, company),
        query_options(filter=filter, select=select, orderby=orderby, top=top),
        f"GET {entity_set} of company {company}" + (f" where {filter}" if filter else ""),
    )


def lookup_query(
    urls: ApiUrls,
    entity_set: str,
    *,
    entity_id: object = None,
    filter: str | None = None,
    company_id: str | None = None,
    select: Iterable[str] | str | None = None,
    top: int = 1,
) -> Query:
    """GET for "does it exist yet": by id, or the first ``top`` entities matching ``filter``."""
    if (entity_id is None) == (filter is None):
        raise ValueError("give exactly one of entity_id and filter")
    if entity_id is not None:
        return replace(entity_query(urls, entity_set, entity_id, company_id, select), missing_ok=True)
    return collection_query(urls, entity_set, company_id, filter=filter, select=select, top=top)


def found_entities(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The entities of an answer: a collection's ``value``, or the single entity itself."""
    value = payload.get("value")
    return list(value) if isinstance(value, list) else [payload]
