"""Whole-number key ranges (``entryNumber``) that split a read into parts read side by side.

A span comes from the lowest and highest key (``$top=1`` ascending and descending), never from
``$count``: ledgers are append-only and their entry numbers increase.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Literal

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError
from airflow_provider_bc.client.odata.filters import all_of, clause

if TYPE_CHECKING:
    from airflow_provider_bc.client.client import BusinessCentralClient

#: the key of ledger entity sets
ENTRY_NUMBER = "entryNumber"


def key_edge(
    client: BusinessCentralClient,
    entity_set: str,
    direction: Literal["asc", "desc"],
    *,
    company_id: str | None = None,
    filter: str | None = None,
    key: str = ENTRY_NUMBER,
) -> int | None:
    """The lowest (``asc``) or highest (``desc``) ``key`` of the rows matching ``filter`` (``None``: no rows)."""
    found = client.find_entities(
        entity_set, company_id=company_id, filter=filter, select=[key], orderby=f"{key} {direction}", top=1
    )
    if not found:
        return None
    number = found[0].get(key) if isinstance(found[0], dict) else None
    if type(number) is not int:
        raise BusinessCentralBadAnswerError(
            f"{entity_set}: the {'lowest' if direction == 'asc' else 'highest'} {key} was answered "
            f"as {number!r}, not a whole number"
        )
    return number


def key_span(
    client: BusinessCentralClient,
    entity_set: str,
    *,
    company_id: str | None = None,
    filter: str | None = None,
    key: str = ENTRY_NUMBER,
) -> tuple[int, int] | None:
    """The lowest and highest ``key`` of the rows matching ``filter`` (``None``: no rows)."""
    low = key_edge(client, entity_set, "asc", company_id=company_id, filter=filter, key=key)
    high = None if low is None else key_edge(client, entity_set, "desc", company_id=company_id, filter=filter, key=key)
    return None if low is None or high is None else (low, high)


def key_bounds(first: int, last: int, parts: int) -> list[tuple[int, int]]:
    """``first <= key <= last`` cut into at most ``parts`` half-open ranges ``[low, high)`` of equal width."""
    bounds = [first + (last - first + 1) * i // parts for i in range(parts + 1)]
    return [(low, high) for low, high in pairwise(bounds) if high > low]


def range_filter(low: int, high: int, base: str | None = None, key: str = ENTRY_NUMBER) -> str:
    """``base`` and ``low <= key < high`` as one OData filter."""
    return all_of([base or "", clause(key, "ge", low), clause(key, "lt", high)])


def range_filters(first: int, last: int, parts: int, base: str | None = None, key: str = ENTRY_NUMBER) -> list[str]:
    """``base`` and ``first <= key <= last`` cut into at most ``parts`` ranges of equal width."""
    return [range_filter(low, high, base, key) for low, high in key_bounds(first, last, parts)]
