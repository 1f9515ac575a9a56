"""One poll of Business Central shared by every watcher of the same entity set (the triggers of
:mod:`.new_entities`): each tick probes the highest watermark visible (``$top=1``), and the rows above
a watermark are read once per tick for all the watchers standing at it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError, BusinessCentralError
from airflow_provider_bc.client.odata.filters import all_of, clause
from airflow_provider_bc.extraction.cursors import ENTRY_NUMBER, LAST_MODIFIED, parse_datetime
from airflow_provider_bc.extraction.frontier import Posted
from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.tasks.outcomes import may_succeed_later

if TYPE_CHECKING:
    import logging

    from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient

#: rows a page when reading what is new (Business Central's largest page)
PAGE_SIZE = 20_000
#: the most rows one read takes (a watcher far behind catches up a tick at a time, memory bounded):
#: rows come in watermark order, so what was read is every row up to the last one
MAX_ROWS = 5 * PAGE_SIZE


@dataclass(frozen=True)
class Watched:
    """What a poll watches: one entity set of one company through one connection, by one watermark."""

    business_central_conn_id: str
    company_id: str
    entity_set: str
    filter: str | None
    watermark_field: str
    poll_interval: float


@dataclass
class Tick:
    """One poll: when, the highest watermark visible then (``None``: no row, or the probe failed), and
    the reads of what lies above a watermark (:meth:`SharedReads.rows_after`), shared by the watchers of this tick."""

    at: dt.datetime
    highest: Any
    reads: SharedReads


@dataclass
class SharedReads:
    """Reads of one tick, each watermark read once however many watchers ask for it."""

    client: AsyncBusinessCentralClient
    watched: Watched
    _reads: dict[Any, asyncio.Task[list[Posted]]] = field(default_factory=dict)
    _settled: dict[str, asyncio.Task[int]] = field(default_factory=dict)

    def rows_after(self, after: Any) -> asyncio.Task[list[Posted]]:
        """The visible rows whose watermark is above ``after`` (number and stamp), in watermark order."""
        if after not in self._reads:
            self._reads[after] = asyncio.ensure_future(self._read(after))
        return self._reads[after]

    def newest_settled(self, before: str) -> asyncio.Task[int]:
        """The highest entry number of a row stamped before ``before`` (nothing below it can still
        appear; 0 for none): where a watcher with no watermark starts, looked up once a tick."""
        if before not in self._settled:
            self._settled[before] = asyncio.ensure_future(self._newest_settled(before))
        return self._settled[before]

    async def _newest_settled(self, before: str) -> int:
        watched = self.watched
        async for entity in self.client.iter_entities(
            watched.entity_set,
            company_id=watched.company_id,
            filter=all_of([watched.filter or "", clause(LAST_MODIFIED, "lt", parse_datetime(before, "horizon"))]),
            select=[ENTRY_NUMBER],
            orderby=f"{ENTRY_NUMBER} desc",
            page_size=1,
        ):
            return _posted({**entity, LAST_MODIFIED: before}, ENTRY_NUMBER, watched.entity_set).number
        return 0

    async def _read(self, after: Any) -> list[Posted]:
        watched = self.watched
        key = watched.watermark_field
        bound = after if key == ENTRY_NUMBER else parse_datetime(after, key)
        rows: list[Posted] = []
        async for page in self.client.iter_pages(
            watched.entity_set,
            company_id=watched.company_id,
            filter=all_of([watched.filter or "", clause(key, "gt", bound)]),
            select=sorted({key, LAST_MODIFIED}),
            orderby=key,
            page_size=PAGE_SIZE,
        ):
            rows += [_posted(entity, key, watched.entity_set) for entity in page.entities]
            if len(rows) >= MAX_ROWS:
                break
        return rows


def _posted(entity: dict[str, Any], key: str, entity_set: str) -> Posted:
    """A row of a read as :class:`Posted` (for ``lastModifiedDateTime`` watermarks the number is unused)."""
    stamped = entity.get(LAST_MODIFIED)
    number = entity.get(ENTRY_NUMBER, 0) if key == ENTRY_NUMBER else 0
    if not isinstance(stamped, str) or type(number) is not int:
        raise BusinessCentralBadAnswerError(
            f"{entity_set}: a row answered {key}={entity.get(key)!r}, {LAST_MODIFIED}={stamped!r}; "
            "not Business Central's answer"
        )
    return Posted(number, stamped)


async def highest(client: AsyncBusinessCentralClient, watched: Watched) -> Any:
    """The highest watermark visible (``$top=1`` in descending order), ``None`` when no row matches."""
    key = watched.watermark_field
    async for page in client.iter_pages(
        watched.entity_set,
        company_id=watched.company_id,
        filter=watched.filter,
        select=[key],
        orderby=f"{key} desc",
        page_size=1,
    ):
        value = page.entities[0].get(key) if page.entities else None
        if value is not None and not isinstance(value, int if key == ENTRY_NUMBER else str):
            raise BusinessCentralBadAnswerError(f"{watched.entity_set}: the highest {key} was answered as {value!r}")
        return value
    return None


async def ticks(watched: Watched, log: logging.Logger | Any) -> AsyncGenerator[Tick, None]:
    """A :class:`Tick` every ``poll_interval`` seconds, forever. A probe that fails is logged and the
    tick skipped (a 429 storm or an Entra outage delays events; the next tick carries the level again)."""
    from airflow_provider_bc.triggers.shared_clients import shared_async_client

    settings = await BusinessCentralHook(watched.business_central_conn_id).aget_settings()
    async with shared_async_client(settings) as client:  # one per connection for the whole triggerer
        number, wait = 0, watched.poll_interval
        while True:
            number += 1
            try:
                top = await highest(client, watched)
            except BusinessCentralError as error:
                level = log.warning if may_succeed_later(error) else log.error
                level("Poll %d of %s failed; polling again in %.1f s: %s", number, watched.entity_set, wait, error)
            else:
                yield Tick(dt.datetime.now(dt.timezone.utc), top, SharedReads(client, watched))
            await asyncio.sleep(wait)
