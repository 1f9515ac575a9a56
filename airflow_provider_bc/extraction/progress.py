"""Running totals of an extraction, shared by its streams, and the progress line logged every ~10 s."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from airflow_provider_bc.client.wording import counted

if TYPE_CHECKING:
    from airflow_provider_bc.client.http.governor import Governor

log = logging.getLogger(__name__)


class Progress:
    """Thread-safe counters of pages, rows read and written, files and bytes; busy streams."""

    def __init__(self, governor: Governor) -> None:
        #: the rows expected (``$count``), for the ETA; set once the run is planned
        self.total: int | None = None
        self._governor = governor
        self._before = governor.stats  # the governor counts for the whole process: this run is the difference
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.pages = self.rows_read = self.rows_written = self.files = self.bytes = self.busy = 0

    def page(self, read: int, written: int) -> None:
        with self._lock:
            self.pages += 1
            self.rows_read += read
            self.rows_written += written

    def file(self, size: int) -> None:
        with self._lock:
            self.files += 1
            self.bytes += size

    def stream(self, delta: int) -> None:
        with self._lock:
            self.busy += delta

    def line(self) -> str:
        """One line for the task log: rows, pages, rate, busy streams, ETA, and this run's requests
        (more requests than pages: retries), 429s and waits for the principal's governor."""
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = self.rows_read / elapsed
        parts = [
            f"{counted(self.rows_read, 'row')} read ({self.rows_written:,} written, {counted(self.files, 'file')})",
            counted(self.pages, "page"),
            f"{rate:,.0f} rows/s",
            f"{counted(self.busy, 'stream')} busy",
        ]
        if self.total:
            left = max(self.total - self.rows_read, 0)
            eta = f"{left / rate:,.0f} s" if rate > 0 else "unknown"
            parts.append(f"{100 * self.rows_read / self.total:.1f}% of ~{self.total:,}, ETA {eta}")
        now, before = self._governor.stats, self._before
        parts.append(
            f"{counted(now.started - before.started, 'request')} ({now.throttled - before.throttled} answered 429, "
            f"{now.waits - before.waits} waited for a slot; {now.limit} allowed at once)"
        )
        return "; ".join(parts)

    def log(self) -> None:
        log.info("Progress: %s", self.line())
