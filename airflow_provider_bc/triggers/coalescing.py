"""Lookups by id from many triggers on one event loop, sent together in ``$batch`` requests.

A lookup by id waits :data:`WINDOW` seconds in a queue; then every lookup queued on that client
goes out in ``$batch`` requests of at most :data:`~.batch.MAX_OPERATIONS` GETs (any entity set,
company or select: each is its own operation), sent at once through the governor. Each waiter gets
what its own GET would have given: the entity (``[entity]``), ``[]`` when there is none, or its own
typed error (one id's error never fails the others); an error of the ``$batch`` itself goes to every
waiter of that batch. Waiters of one lookup share one operation. A batch (and each operation) is
retried only while all its waiters have time left (their ``time_budget``), so no trigger answers
late; a waiter whose check was cut short asks again at its next check. Lookups by filter are not
coalesced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient
from airflow_provider_bc.client.batch.operations import Operation
from airflow_provider_bc.client.batch.reads import MAX_OPERATIONS, BatchRead
from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.http.exchange import Answer
from airflow_provider_bc.client.http.retry import Retrying
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import ClientSettings

#: seconds a lookup by id waits for others to join its batch (about one Business Central round trip)
WINDOW: Final = 0.2

Found = list[dict[str, Any]]
Outcome = Found | BaseException


def earliest(deadlines: Iterable[float | None]) -> float | None:
    """The first of ``deadlines`` (``None``: no deadline), ``None`` when none has one."""
    given = [deadline for deadline in deadlines if deadline is not None]
    return min(given) if given else None


class _Check(Operation):
    """One lookup by id in a batch; a typed error it ends with is kept as its outcome, not raised."""

    error: BusinessCentralError | None = None

    def read(self, answer: Answer | str) -> Retrying | None:
        try:
            return super().read(answer)
        except BusinessCentralError as error:
            self.error, self.exchange = error, None
            return None


class ChecksById(BatchRead[dict[Lookup, Outcome]]):
    """Lookups by id, each with its deadline, read in ``$batch`` requests; each keeps its own outcome."""

    def __init__(self, settings: ClientSettings, urls: ApiUrls, deadlines: Mapping[Lookup, float | None]) -> None:
        self._checks = {
            lookup: _Check.by_id(settings, str(index), urls, lookup, deadline=deadline)
            for index, (lookup, deadline) in enumerate(deadlines.items())
        }
        super().__init__(urls, list(self._checks.values()), MAX_OPERATIONS, "entities by id")

    def result(self) -> dict[Lookup, Outcome]:
        """Each lookup: the entities found (``[]`` or ``[entity]``), or its error."""
        return {lookup: check.found if check.error is None else check.error for lookup, check in self._checks.items()}


@dataclass(frozen=True)
class _Waiter:
    lookup: Lookup
    deadline: float | None
    future: asyncio.Future[Found]

    def settle(self, outcome: Outcome) -> None:
        """Hand ``outcome`` to the waiter (unless it stopped waiting)."""
        if self.future.done():
            return
        if isinstance(outcome, BaseException):
            self.future.set_exception(outcome)
        else:
            self.future.set_result(list(outcome))


class Coalescer:
    """The queue of one client's lookups by id on its event loop, and the batches sending them."""

    def __init__(self, client: AsyncBusinessCentralClient, window: float = WINDOW) -> None:
        self._client = client
        self._window = window
        self._queued: list[_Waiter] = []
        self._flush: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def lookup(self, lookup: Lookup, time_budget: float | None) -> Found:
        """What ``client.lookup(lookup)`` gives, read in the next batch."""
        loop = asyncio.get_running_loop()
        deadline = None if time_budget is None else time.monotonic() + time_budget
        waiter = _Waiter(lookup, deadline, loop.create_future())
        self._queued.append(waiter)
        if self._flush is None:
            self._flush = loop.call_later(self._window, self._send_queued)
        return await waiter.future

    def _send_queued(self) -> None:
        self._flush = None
        by_lookup: dict[Lookup, list[_Waiter]] = {}
        for waiter in self._queued:
            if not waiter.future.done():  # a cancelled trigger's lookup is not sent
                by_lookup.setdefault(waiter.lookup, []).append(waiter)
        self._queued = []
        lookups = list(by_lookup.items())
        for start in range(0, len(lookups), MAX_OPERATIONS):
            task = asyncio.get_running_loop().create_task(self._send(dict(lookups[start : start + MAX_OPERATIONS])))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, waiters: dict[Lookup, list[_Waiter]]) -> None:
        try:
            outcomes = await self._outcomes(waiters)
            for lookup, same in waiters.items():
                for waiter in same:
                    waiter.settle(outcomes[lookup])
        finally:  # cancelled (the client closes): no waiter is left waiting forever
            for same in waiters.values():
                for waiter in same:
                    waiter.future.cancel()  # nothing once settled

    async def _outcomes(self, waiters: Mapping[Lookup, list[_Waiter]]) -> Mapping[Lookup, Outcome]:
        deadlines = {lookup: earliest(waiter.deadline for waiter in same) for lookup, same in waiters.items()}
        deadline = earliest(deadlines.values())
        try:
            batch = ChecksById(self._client.settings, self._client.urls, deadlines)
            return await self._client.run_batch(
                batch, time_budget=None if deadline is None else deadline - time.monotonic()
            )
        except Exception as error:  # the $batch itself failed: the error of each of its lookups
            return dict.fromkeys(waiters, error)

    async def aclose(self) -> None:
        """Stop: nothing queued is sent, batches on their way are cancelled."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        for waiter in self._queued:
            waiter.future.cancel()
        self._queued = []
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)


class CoalescingAsyncClient(AsyncBusinessCentralClient):
    """The async client whose lookups by id share ``$batch`` requests (:class:`Coalescer`); the one
    :func:`~.shared_clients.shared_async_client` hands the triggers of a connection on a loop."""

    def __init__(self, settings: ClientSettings, *, window: float = WINDOW) -> None:
        super().__init__(settings)
        self._coalescer = Coalescer(self, window)

    async def lookup(self, lookup: Lookup, *, time_budget: float | None = None) -> Found:
        """As :meth:`AsyncBusinessCentralClient.lookup`; by id, in a batch with the other lookups by id."""
        if lookup.entity_id is None:
            return await super().lookup(lookup, time_budget=time_budget)
        return await self._coalescer.lookup(lookup, time_budget)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._coalescer.aclose()
        await super().__aexit__(exc_type, exc, tb)
