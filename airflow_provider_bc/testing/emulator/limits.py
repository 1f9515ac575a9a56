"""BC's per-principal limits: a sliding-window rate limit and a concurrency gate with a bounded queue."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from .errors import ApiError
from .settings import RuntimeConfig


@dataclass
class _Gate:
    """Slots of one principal: how many are taken, and who waits for one (first come, first served)."""

    active: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)


def too_many_requests(message: str, retry_after: int) -> ApiError:
    """BC's 429 answer with a ``Retry-After`` in whole seconds (at least 1)."""
    return ApiError(429, "Application_TooManyRequests", message, {"Retry-After": str(max(1, retry_after))})


class Admission:
    """Admits BC API requests per principal, counting how many run at once (all principals)."""

    def __init__(self, config: RuntimeConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.windows: dict[str, deque[float]] = {}
        self.gates: dict[str, _Gate] = {}
        self.running = 0
        self.peak = 0

    def reset(self) -> None:
        """Forget rate-limit history and the peak (requests in progress keep their slots)."""
        self.windows.clear()
        self.peak = self.running

    @asynccontextmanager
    async def slot(self, principal: str, operations: int = 1) -> AsyncIterator[int]:
        """Hold one of ``principal``'s processing slots for a request of ``operations`` operations (a
        ``$batch``'s), each counted in the rate window; yields how many of them the window admits, the
        first ones (a full window raises the 429 :class:`ApiError`, as for any other request)."""
        admitted = self._count_in_window(principal, operations)
        gate = self.gates.setdefault(principal, _Gate())
        await self._acquire(gate)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            yield admitted
        finally:
            self.running -= 1
            self._release(gate)

    def over_rate(self, principal: str) -> ApiError:
        """The 429 for one more request of ``principal`` while its rate window is full."""
        window = self.windows.setdefault(principal, deque())
        retry_after = math.ceil(window[0] + self.config.rate_window - self.clock()) if window else 1
        return too_many_requests(
            f"Too many requests reached. Actual ({len(window) + 1}). Maximum ({self.config.rate_limit}).", retry_after
        )

    def _count_in_window(self, principal: str, operations: int) -> int:
        now = self.clock()
        window = self.windows.setdefault(principal, deque())
        while window and window[0] <= now - self.config.rate_window:
            window.popleft()
        admitted = min(operations, self.config.rate_limit - len(window))
        if admitted < 1:
            raise self.over_rate(principal)
        window.extend([now] * admitted)
        return admitted

    async def _acquire(self, gate: _Gate) -> None:
        if gate.active < self.config.max_concurrent and not gate.waiting:
            gate.active += 1
            return
        if len(gate.waiting) >= self.config.queue_size:
            raise too_many_requests("Too many requests are queued for this user. Please retry later.", 1)
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        gate.waiting.append(ticket)
        try:
            await ticket  # _release hands over the slot (gate.active already counts it)
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self._release(gate)
            elif ticket in gate.waiting:
                gate.waiting.remove(ticket)
            raise

    def _release(self, gate: _Gate) -> None:
        gate.active -= 1
        while gate.waiting and gate.active < self.config.max_concurrent:
            ticket = gate.waiting.popleft()
            if not ticket.done():
                gate.active += 1
                ticket.set_result(None)
