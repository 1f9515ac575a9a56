"""The sans-I/O accounting of one principal's requests: its :class:`Limits`, the :class:`Ledger` that
decides whether a request may start now (slots in flight, the sliding request window, a 429's pause)
and records starts and answers, adapting the concurrency limit to throttling, and its counters
(:class:`GovernorStats`). It never waits, locks or logs: :class:`.governor.Governor` does.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from airflow_provider_bc.client.settings import ClientSettings

THROTTLED = 429


@dataclass(frozen=True)
class Limits:
    """What one principal may do at once (``max_in_flight``) and per ``window`` seconds (``max_requests``);
    ``recovery``: answers in a row without throttling that raise a lowered concurrency by one."""

    max_in_flight: int = 5
    max_requests: int = 6000
    window: float = 300.0
    recovery: int = 20

    @classmethod
    def of(cls, settings: ClientSettings) -> Limits:
        """The limits ``settings`` ask for."""
        return cls(settings.max_in_flight, settings.max_requests, settings.request_window)


@dataclass(frozen=True)
class GovernorStats:
    """Counters of one principal's governor, at one instant."""

    started: int  # requests started since the process began
    in_flight: int  # requests running now
    peak_in_flight: int  # most requests running at once
    waiting: int  # requests waiting for a slot now
    waits: int  # requests that had to wait for a slot
    wait_seconds: float  # time those requests spent waiting, in all
    throttled: int  # 429 answers
    limit: int  # requests allowed to run at once now

    def describe(self) -> str:
        """One line for progress logs."""
        return (
            f"{self.in_flight}/{self.limit} requests in flight (peak {self.peak_in_flight}), {self.started} started, "
            f"{self.waiting} waiting ({self.waits} waited {self.wait_seconds:.1f} s in all), {self.throttled} throttled"
        )


class Ledger:
    """The accounting of one principal: decides whether a request may start at ``now``, records starts
    and answers. Not thread-safe and never waits: :class:`.governor.Governor` locks and waits around it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.limit = limits.max_in_flight
        self.in_flight = 0
        self.started = 0
        self.peak_in_flight = 0
        self.throttled = 0
        self.waits = 0
        self.wait_seconds = 0.0
        self._starts: deque[float] = deque()  # start times within the window, oldest first
        self._paused_until = -math.inf
        self._lowerings = 0  # how many times ``limit`` was lowered: a request's epoch
        self._successes = 0  # answers in a row that were not throttled

    def delay(self, now: float) -> float:
        """``0.0`` when a request may start at ``now``; ``math.inf`` while every slot is taken;
        otherwise the seconds until the window or a ``Retry-After`` lets one start."""
        if self.in_flight >= self.limit:
            return math.inf
        while self._starts and self._starts[0] <= now - self.limits.window:
            self._starts.popleft()
        over = len(self._starts) - self.limits.max_requests  # a batch may have taken the window past its limit
        window_free_at = self._starts[over] + self.limits.window if over >= 0 else now
        return max(0.0, self._paused_until - now, window_free_at - now)

    def start(self, now: float, waiting_since: float | None = None, operations: int = 1) -> int:
        """Record a request of ``operations`` operations (each counted in the window) starting at ``now``
        (after waiting for a slot since ``waiting_since``); returns its epoch, to hand back to :meth:`finish`."""
        if waiting_since is not None:
            self.waits += 1
            self.wait_seconds += now - waiting_since
        self.in_flight += 1
        self.started += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self._starts.extend([now] * operations)
        return self._lowerings

    def finish(self, epoch: int, now: float, status: int | None = None, pause: float = 0.0) -> bool:
        """Record the end of a request started in ``epoch``: its answer's ``status`` (``None``: no
        answer), and for a 429 how long new starts wait (``pause``). Returns whether ``limit`` changed."""
        self.in_flight -= 1
        if status == THROTTLED:
            self.throttled += 1
            self._successes = 0
            self._paused_until = max(self._paused_until, now + pause)
            # requests already running when the limit was lowered say nothing about the lower limit
            if epoch == self._lowerings and self.limit > 1:
                self.limit -= 1
                self._lowerings += 1
                return True
            return False
        if status is None or status >= 500:
            return False
        self._successes += 1
        if self._successes >= self.limits.recovery and self.limit < self.limits.max_in_flight:
            self._successes = 0
            self.limit += 1
            return True
        return False

    def stats(self, waiting: int) -> GovernorStats:
        """The counters now, with ``waiting`` requests queued."""
        return GovernorStats(
            started=self.started,
            in_flight=self.in_flight,
            peak_in_flight=self.peak_in_flight,
            waiting=waiting,
            waits=self.waits,
            wait_seconds=self.wait_seconds,
            throttled=self.throttled,
            limit=self.limit,
        )
