"""What tests can read back: request counters by route and status, tokens issued, recent requests."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from .asgi import Request

RECENT_LIMIT = 1000
DROPPED = 0  # the status recorded for a connection closed without an answer
RECORDED_HEADERS = ("User-Agent", "client-request-id", "Data-Access-Intent", "Prefer")


@dataclass(frozen=True)
class OperationRecord:
    """One operation of a ``$batch``: its id, method, URL path (with query), route and status answered."""

    id: str
    method: str
    path: str
    route: str
    status: int


@dataclass(frozen=True)
class RequestRecord:
    """One answered request. Never holds credentials: only whether an Authorization header came.

    ``headers`` holds those of :data:`RECORDED_HEADERS` the client sent, under those names;
    ``operations`` those of a ``$batch`` that were answered, in order (``None`` for other requests).
    """

    time: float
    method: str
    path: str
    route: str
    status: int
    authorization: bool
    headers: dict[str, str]
    connection: str  # the client's address:port, one per TCP connection (to see connections reused)
    operations: tuple[OperationRecord, ...] | None = None


class Stats:
    """Counters and a bounded log of recent requests (control API requests are not recorded)."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.operations: Counter[tuple[str, int]] = Counter()  # of $batch requests, by route and status
        self.tokens_issued = 0
        self.recent: deque[RequestRecord] = deque(maxlen=RECENT_LIMIT)
        self.in_flight = 0
        self.max_in_flight = 0

    def reset(self) -> None:
        """Zero the counters (the highest in flight: to those in flight now) and clear the log."""
        self.requests.clear()
        self.operations.clear()
        self.tokens_issued = 0
        self.recent.clear()
        self.max_in_flight = self.in_flight

    @contextmanager
    def flight(self) -> Iterator[None]:
        """Count one BC API request as in flight, from when it was read until its answer is sent or
        abandoned (waiting for a processing slot too), for ``max_in_flight``."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1

    def record(
        self, request: Request, route: str, status: int, operations: tuple[OperationRecord, ...] | None = None
    ) -> None:
        """Count one answered (or dropped) request, and the ``operations`` of a ``$batch`` it answered."""
        self.requests[route, status] += 1
        for operation in operations or ():
            self.operations[operation.route, operation.status] += 1
        if route == "token" and status == 200:
            self.tokens_issued += 1
        headers = {name: request.headers[name.lower()] for name in RECORDED_HEADERS if name.lower() in request.headers}
        self.recent.append(
            RequestRecord(
                time=time.time(),
                method=request.method,
                path=request.target,
                route=route,
                status=status,
                authorization="authorization" in request.headers,
                headers=headers,
                connection=request.connection,
                operations=operations,
            )
        )

    def snapshot(self, max_concurrency: int) -> dict[str, Any]:
        """Everything as JSON-ready data: ``requests[route][status] = count``, the same of the operations
        inside ``$batch`` requests (``operations``), the highest numbers of BC API requests processed
        (``max_concurrency``) and in flight (``max_in_flight``) at once, all principals together, and
        the recent log."""
        return {
            "requests": _by_route(self.requests),
            "operations": _by_route(self.operations),
            "total_requests": sum(self.requests.values()),
            "tokens_issued": self.tokens_issued,
            "max_concurrency": max_concurrency,
            "max_in_flight": self.max_in_flight,
            "recent_requests": [asdict(record) for record in self.recent],
        }


def _by_route(counts: Counter[tuple[str, int]]) -> dict[str, dict[str, int]]:
    """``{route: {status: count}}``, sorted."""
    by_route: dict[str, dict[str, int]] = {}
    for (route, status), count in sorted(counts.items()):
        by_route.setdefault(route, {})[str(status)] = count
    return by_route
