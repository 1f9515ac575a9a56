"""The Business Central side: the rows of the window read in key order, up to ``max_streams`` key
ranges at once through the principal's governor, with ``$select`` of only the fields compared."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Hashable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError
from airflow_provider_bc.client.key_ranges import key_bounds, key_span, range_filter
from airflow_provider_bc.client.thread_clients import ThreadClients
from airflow_provider_bc.reconciliation.spec import ReconcileSpec

#: the key numbers one request covers: a page at most (Business Central's largest page holds 20,000)
RANGE_WIDTH = 10_000


class BusinessCentralSide:
    """Reads of the rows ``spec`` compares, one client per thread from ``clients``."""

    def __init__(self, spec: ReconcileSpec, clients: ThreadClients) -> None:
        self.spec = spec
        self._clients = clients
        self._lock = threading.Lock()
        #: the HTTP requests asked (pages, key edges, ``$batch`` of counts; the retries of one are not counted)
        self.requests = 0

    def _asked(self, requests: int) -> None:
        with self._lock:
            self.requests += requests

    def span(self) -> tuple[int, int] | None:
        """The lowest and highest key of the window's rows (``None``: no rows)."""
        spec = self.spec
        self._asked(2)
        return key_span(
            self._clients.get(), spec.entity_set, company_id=spec.company_id, filter=spec.bc_filter(), key=spec.key
        )

    def read_range(self, low: int, high: int, fields: list[str]) -> list[dict[str, Any]]:
        """The rows with ``low <= key < high``, in key order (an answer that is not raises
        :class:`BusinessCentralBadAnswerError`: merged as it is, it would report keys wrongly)."""
        spec = self.spec
        rows: list[dict[str, Any]] = []
        where = range_filter(low, high, spec.bc_filter(), spec.key)
        for page in self._clients.get().iter_pages(
            spec.entity_set,
            company_id=spec.company_id,
            filter=where,
            select=fields,
            orderby=spec.key,
            page_size=min(RANGE_WIDTH, max(high - low, 1)),
            exact_numbers=True,
        ):
            self._asked(1)
            rows.extend(page.entities)
        previous = low
        for row in rows:
            key = row.get(spec.key)
            if type(key) is not int or not previous <= key < high:
                raise BusinessCentralBadAnswerError(
                    f"GET {spec.entity_set} where {where}: the answer holds {spec.key} {key!r:.40} after {previous}, "
                    "outside the range asked or out of order; it is not Business Central's answer (a proxy?)"
                )
            previous = key
        return rows

    def counts(self, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """How many rows of the window each range (``low <= key < high``) holds: a ``$count`` GET each, in
        ``$batch`` requests of up to 100."""
        spec = self.spec
        where, key = spec.bc_filter(), spec.key
        filters: dict[Hashable, str] = {i: range_filter(low, high, where, key) for i, (low, high) in enumerate(ranges)}
        self._asked(1)
        counted = self._clients.get().count_many(spec.entity_set, filters, company_id=spec.company_id)
        return [counted[index] for index in range(len(ranges))]

    def rows_in_key_order(self, span: tuple[int, int] | None) -> Iterator[dict[str, Any]]:
        """Every row of the window in key order, in ranges of :data:`RANGE_WIDTH` keys."""
        if span is None:
            return
        first, last = span
        yield from self.rows_of_ranges(key_bounds(first, last, math.ceil((last - first + 1) / RANGE_WIDTH)))

    def rows_of_ranges(
        self, ranges: Iterable[tuple[int, int]], fields: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The rows of ``ranges`` (in key order, not overlapping) in key order, ``fields`` only (default:
        those compared): ranges read ``max_streams`` ahead of the one handed on, so memory holds at most
        ``max_streams + 1`` ranges."""
        pending = deque(ranges)
        selected = fields or self.spec.columns()
        with ThreadPoolExecutor(self.spec.max_streams, thread_name_prefix="bc-reconcile") as pool:
            ahead: deque[Future[list[dict[str, Any]]]] = deque()
            try:
                while pending or ahead:
                    while pending and len(ahead) < self.spec.max_streams:
                        ahead.append(pool.submit(self.read_range, *pending.popleft(), selected))
                    rows = ahead.popleft().result()
                    yield from rows
                    del rows
            finally:
                for future in ahead:
                    future.cancel()

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row of the window, in the API's order."""
        spec = self.spec
        for page in self._clients.get().iter_pages(
            spec.entity_set,
            company_id=spec.company_id,
            filter=spec.bc_filter(),
            select=spec.columns(),
            exact_numbers=True,
        ):
            self._asked(1)
            yield from page.entities
