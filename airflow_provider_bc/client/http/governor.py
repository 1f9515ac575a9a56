"""One governor per principal per process: Business Central's per-user limits, kept on our side.

Business Central runs at most 5 requests of one user (a service principal is one) at once and
queues the rest, and answers 429 beyond 6,000 requests per 5-minute sliding window. Every client
of a principal in this process (sync or async, any thread, any event loop) sends its API requests
through that principal's :class:`Governor`, which:

* lets at most ``limit`` requests run at once (``max_in_flight``, lowered after 429s, see below);
  a request holds its slot only while its HTTP exchange runs, never while it waits to retry;
* starts at most ``max_requests`` requests per ``window`` seconds (sliding); a ``$batch`` counts its
  operations there (as the emulator does: how BC counts them is not documented), one slot in flight;
* hands slots out first come, first served, to threads and event loops alike;
* adapts to 429 answers (AIMD): a 429 lowers ``limit`` by one (not below 1), once for all the
  requests that were already running when it was lowered; every ``recovery`` answers in a row
  that are neither a 429 nor a 5xx raise it by one again, up to ``max_in_flight``. A 429's
  ``Retry-After`` also holds back every new start of the principal for that long, when the
  throttled request itself will wait that long (no longer than its ``retry_after_max``).

Entra token requests do not go through the governor (Entra's limits are not Business Central's).
This module owns the waiting (threads and event loops queued in order) and the governor of each
principal; the accounting it waits on (limits, window, AIMD) is :mod:`.request_window`'s.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from airflow_provider_bc.client.http.exchange import Answer
from airflow_provider_bc.client.http.request_window import THROTTLED, GovernorStats, Ledger, Limits
from airflow_provider_bc.client.settings import ClientSettings

log = logging.getLogger(__name__)

#: parses ``Retry-After`` (seconds or an HTTP date) as the retry decisions do
_RETRY_AFTER = Retry(total=None)


class _Waiter:
    """A request of ``operations`` operations queued for a slot since ``since``; ``epoch`` is set when
    it is granted one, ``answer`` when its request is answered."""

    def __init__(self, since: float, operations: int) -> None:
        self.since = since
        self.operations = operations
        self.epoch: int | None = None
        self.waited = False  # not granted a slot on its first look
        self.answer: Answer | None = None

    def wake(self) -> bool:
        """Make the waiting side look again; ``False`` when it never can (its event loop is closed)."""
        raise NotImplementedError


class _ThreadWaiter(_Waiter):
    def __init__(self, since: float, operations: int) -> None:
        super().__init__(since, operations)
        self.event = threading.Event()

    def wake(self) -> bool:
        self.event.set()
        return True

    def wait(self, timeout: float) -> None:
        """Block the thread until woken or ``timeout`` seconds (``math.inf``: no limit) have passed."""
        self.event.wait(None if math.isinf(timeout) else timeout)
        self.event.clear()


class _LoopWaiter(_Waiter):
    def __init__(self, since: float, operations: int) -> None:
        super().__init__(since, operations)
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def wake(self) -> bool:
        try:
            self.loop.call_soon_threadsafe(self.event.set)
        except RuntimeError:  # the loop is closed
            return False
        return True

    async def wait(self, timeout: float) -> None:
        """As :meth:`_ThreadWaiter.wait`, without blocking the event loop."""
        timer = None if math.isinf(timeout) else self.loop.call_later(timeout, self.event.set)
        try:
            await self.event.wait()
        finally:
            if timer is not None:
                timer.cancel()
        self.event.clear()


W = TypeVar("W", bound=_Waiter)


class Governor:
    """The slots of one principal, shared by every thread and event loop of the process (see the module)."""

    def __init__(self, limits: Limits, *, name: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        """``name`` names the principal in logs; ``clock`` gives seconds (monotonic)."""
        self.limits = limits
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._ledger = Ledger(limits)
        self._queue: deque[_Waiter] = deque()

    @property
    def stats(self) -> GovernorStats:
        """The counters now (for progress logs)."""
        with self._lock:
            return self._ledger.stats(len(self._queue))

    def send(self, request: Callable[[], Answer], *, max_pause: float = 0.0, operations: int = 1) -> Answer:
        """Run ``request`` (one HTTP exchange) in a slot, blocking the thread until one is free.

        ``max_pause``: the longest 429 ``Retry-After`` the caller waits for, and so holds back new starts;
        ``operations``: how many the request carries (a ``$batch``'s), each counted in the window.
        """
        with self._turn(_ThreadWaiter, operations, max_pause) as waiter:
            while (timeout := self._poll(waiter)) is not None:
                waiter.wait(timeout)
            waiter.answer = request()
            return waiter.answer

    async def asend(
        self, request: Callable[[], Awaitable[Answer]], *, max_pause: float = 0.0, operations: int = 1
    ) -> Answer:
        """As :meth:`send`, waiting without blocking the event loop; cancelling the wait gives the slot back."""
        with self._turn(_LoopWaiter, operations, max_pause) as waiter:
            while (timeout := self._poll(waiter)) is not None:
                await waiter.wait(timeout)
            waiter.answer = await request()
            return waiter.answer

    @contextmanager
    def _turn(self, kind: type[W], operations: int, max_pause: float) -> Iterator[W]:
        """A request's turn: queued on entry; on exit, out of the queue or its slot given back (see :meth:`_leave`)."""
        waiter = kind(self._clock(), operations)
        with self._lock:
            self._queue.append(waiter)
        try:
            yield waiter
        finally:
            self._leave(waiter, max_pause)

    def _poll(self, waiter: _Waiter) -> float | None:
        """``None`` once ``waiter`` holds a slot, else how long to wait at most before polling again."""
        with self._lock:
            delay = self._admit(waiter)
            if waiter.epoch is not None:
                return None
            waiter.waited = True
            return delay

    def _admit(self, caller: _Waiter | None = None) -> float:
        """Grant free slots to the head of the queue, in order; returns what holds the next one back
        (:meth:`Ledger.delay`; 0.0 when nobody waits).

        Lock held. A head held back by time (window or pause) is woken to time its wait: it may be
        waiting for a released slot only, which would never come.
        """
        now = self._clock()
        while self._queue:
            delay = self._ledger.delay(now)
            head = self._queue[0]
            if delay > 0.0:
                if head is caller or math.isinf(delay) or head.wake():
                    return delay
                self._queue.popleft()  # its event loop is closed: it never runs
                continue
            self._queue.popleft()
            head.epoch = self._ledger.start(now, head.since if head.waited else None, head.operations)
            if head is not caller and not head.wake():
                self._ledger.finish(head.epoch, now)
                head.epoch = None
        return 0.0

    def _leave(self, waiter: _Waiter, max_pause: float) -> None:
        """Take ``waiter`` out of the queue, or give back its slot with what its answer says (none when
        its request failed, or its wait was cancelled or interrupted after the slot was granted)."""
        answer = waiter.answer
        status = None if answer is None else answer.status
        pause = _retry_after(answer) if status == THROTTLED else None
        changed = False
        with self._lock:
            if waiter.epoch is not None:
                changed = self._ledger.finish(
                    waiter.epoch, self._clock(), status, pause if pause is not None and pause <= max_pause else 0.0
                )
            elif waiter in self._queue:  # else its loop closed before it was granted a slot
                self._queue.remove(waiter)
            limit = self._ledger.limit
            self._admit()
        if changed and status == THROTTLED:
            log.warning(
                "Business Central throttled %s (HTTP 429%s): at most %d requests in flight now",
                self.name,
                f", Retry-After {pause:.0f} s" if pause is not None else "",
                limit,
            )
        elif changed:
            log.info("No throttling of %s lately: at most %d requests in flight now", self.name, limit)


def _retry_after(answer: Answer | None) -> float | None:
    """The answer's ``Retry-After`` in seconds, or ``None`` when absent or unreadable."""
    value = None if answer is None else answer.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(_RETRY_AFTER.parse_retry_after(value))
    except InvalidHeader:
        return None


_governors: dict[tuple[str, ...], Governor] = {}
_warned: set[tuple[tuple[str, ...], Limits]] = set()
_registry_lock = threading.Lock()


def principal(settings: ClientSettings) -> tuple[str, ...]:
    """What identifies the principal whose limits ``settings`` use: authority, tenant, client id, API host."""
    return (
        settings.authority.lower(),
        settings.tenant_id.lower(),
        settings.client_id.strip().lower(),
        settings.api_host.lower(),
    )


def governor_for(settings: ClientSettings) -> Governor:
    """The process's governor of the principal of ``settings`` (created with their limits on first use)."""
    key = principal(settings)
    limits = Limits.of(settings)
    with _registry_lock:
        governor = _governors.get(key)
        if governor is None:
            governor = _governors[key] = Governor(limits, name=f"client id {settings.client_id}")
        elif governor.limits != limits and (key, limits) not in _warned:
            _warned.add((key, limits))
            log.warning(
                "%s asks for %s, but %s already runs with %s in this process: kept",
                settings.source or "A client",
                limits,
                governor.name,
                governor.limits,
            )
    return governor


def _forget_governors() -> None:
    # A forked child inherits the parent's slots as taken (by threads it does not have) and maybe a
    # held lock: it starts afresh.
    global _registry_lock
    _governors.clear()
    _warned.clear()
    _registry_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_governors)
