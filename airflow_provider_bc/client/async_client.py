"""Business Central client (async) for triggers: httpx, MSAL kept off the event loop, the sync
client's URLs, retry decisions, answer reading, paging and ``$batch`` reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable, Iterable, Mapping
from types import TracebackType
from typing import Any

from typing_extensions import Unpack

from airflow_provider_bc.client import base
from airflow_provider_bc.client.base import ClientBase, ReadOptions, first_page_query, log_page
from airflow_provider_bc.client.batch.lookup import BatchLookup, Key
from airflow_provider_bc.client.batch.reads import (
    BatchOptions,
    BatchRead,
    CountsByFilter,
    EntitiesById,
    MatchesByValue,
    Result,
)
from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.http.async_transport import AsyncTransport
from airflow_provider_bc.client.http.exchange import Answer
from airflow_provider_bc.client.http.retry import Retrying
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.paging import Page, PageCursor
from airflow_provider_bc.client.odata.queries import Query, found_entities, lookup_query
from airflow_provider_bc.client.settings import ClientSettings


class AsyncBusinessCentralClient(ClientBase[AsyncTransport]):
    """Async twin of :class:`~airflow_provider_bc.client.client.BusinessCentralClient` (the same
    :attr:`governor` for the same principal).

    Use as ``async with AsyncBusinessCentralClient(settings) as client: ...``.
    """

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings, AsyncTransport)

    async def __aenter__(self) -> AsyncBusinessCentralClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._transport.aclose()

    async def run(
        self, query: Query, *, page_size: int | None = None, time_budget: float | None = None
    ) -> dict[str, Any]:
        """As ``BusinessCentralClient.run``; MSAL (sync, may do HTTP) runs in a worker thread."""
        steps = base.request_steps(self.settings, query, page_size=page_size, deadline=base.deadline_in(time_budget))
        return await self._drive(steps)

    async def run_batch(self, batch: BatchRead[Result], *, time_budget: float | None = None) -> Result:
        """As ``BusinessCentralClient.run_batch``."""
        return await self._drive(base.batch_steps(self.settings, batch, deadline=base.deadline_in(time_budget)))

    async def _drive(self, steps: base.Steps[base.R]) -> base.R:
        stepper = base.Stepper(steps)
        while (step := stepper.next()) is not None:
            try:
                stepper.answered(await self._perform(step))
            except BusinessCentralError as error:
                stepper.failed(error)
        return stepper.result

    async def _perform(self, step: base.Step) -> Answer | None:
        """As ``BusinessCentralClient._perform``, without blocking the event loop."""
        if isinstance(step, Retrying):
            if step.new_token:
                await asyncio.to_thread(self._tokens.invalidate)
            await asyncio.sleep(step.wait)
            return None
        send = step.exchange.attempt(self._transport.send, await asyncio.to_thread(self._tokens.token))
        return await self.governor.asend(send, max_pause=self.settings.retry_after_max, operations=step.operations)

    async def get_entities(
        self,
        entity_set: str,
        ids: Iterable[str],
        *,
        time_budget: float | None = None,
        **options: Unpack[BatchOptions],
    ) -> dict[str, dict[str, Any] | None]:
        """As ``BusinessCentralClient.get_entities``: entities by id in ``$batch`` requests (``time_budget``
        as for :meth:`run_batch`)."""
        read = EntitiesById(self.settings, self.urls, entity_set, ids, **options)
        return await self.run_batch(read, time_budget=time_budget)

    async def find_many(
        self,
        entity_set: str,
        field: str,
        values: Iterable[Hashable],
        *,
        time_budget: float | None = None,
        **options: Unpack[BatchOptions],
    ) -> dict[Hashable, list[dict[str, Any]]]:
        """As ``BusinessCentralClient.find_many``: each value's matches, in ``$batch`` requests (``time_budget``
        as for :meth:`run_batch`)."""
        read = MatchesByValue(self.settings, self.urls, entity_set, field, values, **options)
        return await self.run_batch(read, time_budget=time_budget)

    async def count_many(
        self, entity_set: str, filters: Mapping[Hashable, str], **options: Unpack[BatchOptions]
    ) -> dict[Hashable, int]:
        """As ``BusinessCentralClient.count_many``: how many entities match each filter, in ``$batch`` requests."""
        return await self.run_batch(CountsByFilter(self.settings, self.urls, entity_set, filters, **options))

    async def read_keys(
        self, lookup: BatchLookup, keys: Iterable[Key], *, time_budget: float | None = None
    ) -> dict[Any, Any]:
        """As ``BusinessCentralClient.read_keys``."""
        return await self.run_batch(lookup.batch_read(self.settings, self.urls, keys), time_budget=time_budget)

    async def lookup(self, lookup: Lookup, *, time_budget: float | None = None) -> list[dict[str, Any]]:
        """As ``BusinessCentralClient.lookup``: the entity or matches, ``[]`` when there is none yet."""
        query = lookup_query(self.urls, lookup)
        return found_entities(await self.run(query, time_budget=time_budget), query.context)

    async def iter_pages(self, entity_set: str, **options: Unpack[ReadOptions]) -> AsyncIterator[Page]:
        """As ``BusinessCentralClient.iter_pages``, as an async iterator."""
        cursor = PageCursor(self.urls, first_page_query(self.urls, entity_set, options))
        query: Query | None = cursor.first
        while query is not None:
            page = cursor.page(await self.run(query, page_size=options.get("page_size")))
            log_page(page, cursor, entity_set)
            yield page
            del page
            query = cursor.next_query()

    async def iter_entities(self, entity_set: str, **options: Unpack[ReadOptions]) -> AsyncIterator[dict[str, Any]]:
        """As ``BusinessCentralClient.iter_entities``: every entity of a collection, a page in memory at a time."""
        async for page in self.iter_pages(entity_set, **options):
            entities = page.entities
            del page
            for entity in entities:
                yield entity
            del entities
