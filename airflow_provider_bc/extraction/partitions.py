"""Entry-number ranges that split a ledger read into partitions read side by side.

Key ranges come from the lowest and highest ``entryNumber`` (``$top=1`` ascending and
descending), never from ``$count``: ledgers are append-only and their entry numbers increase.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Literal

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError
from airflow_provider_bc.client.odata.filters import all_of, clause
from airflow_provider_bc.extraction.cursors import ENTRY_NUMBER

if TYPE_CHECKING:
    from airflow_provider_bc.client.client import BusinessCentralClient


def key_edge(
    client: BusinessCentralClient,
    entity_set: str,
    direction: Literal["asc", "desc"],
    *,
    company_id: str | None = None,
    filter: str | None = None,
) -> int | None:
    """The lowest (``asc``) or highest (``desc``) ``entryNumber`` of the rows matching ``filter``
    (``None``: no rows)."""
    order = f"{ENTRY_NUMBER} {direction}"
    found = client.find_entities(
        entity_set, company_id=company_id, filter=filter, select=[ENTRY_NUMBER], orderby=order, top=1
    )
    if not found:
        return None
    number = found[0].get(ENTRY_NUMBER) if isinstance(found[0], dict) else None
    if type(number) is not int:
        raise BusinessCentralBadAnswerError(
            f"{entity_set}: the {'lowest' if direction == 'asc' else 'highest'} {ENTRY_NUMBER} was answered "
            f"as {number!r}, not a whole number"
        )
    return number


def key_span(
    client: BusinessCentralClient, entity_set: str, *, company_id: str | None = None, filter: str | None = None
) -> tuple[int, int] | None:
    """The lowest and highest ``entryNumber`` of the rows matching ``filter`` (``None``: no rows)."""
    low = key_edge(client, entity_set, "asc", company_id=company_id, filter=filter)
    high = None if low is None else key_edge(client, entity_set, "desc", company_id=company_id, filter=filter)
    return None if low is None or high is None else (low, high)


def range_filters(first: int, last: int, parts: int, base: str | None = None) -> list[str]:
    """``base`` and ``first <= entryNumber <= last`` cut into at most ``parts`` ranges of equal width."""
    bounds = [first + (last - first + 1) * i // parts for i in range(parts + 1)]
    return [
        all_of([base or "", clause(ENTRY_NUMBER, "ge", low), clause(ENTRY_NUMBER, "lt", high)])
        for low, high in pairwise(bounds)
        if high > low
    ]
