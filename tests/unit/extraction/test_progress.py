"""Progress: counters shared by a run's streams, and the progress line with its rate, ETA and this run's requests."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import pytest

from airflow_provider_bc.extraction import progress as progress_module
from airflow_provider_bc.extraction.progress import Progress


class _Governor:
    """A principal's governor whose counters the test moves (the whole process's, as a real one's)."""

    def __init__(self) -> None:
        self.stats = SimpleNamespace(started=40, throttled=2, waits=1, limit=5)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_counters_add_up_when_streams_count_at_once() -> None:
    progress = Progress(_Governor())  # type: ignore[arg-type]
    together = threading.Barrier(8)

    def stream() -> None:
        together.wait(timeout=10)
        progress.stream(+1)
        for _ in range(1000):
            progress.page(read=3, written=2)
            progress.file(size=10)
        progress.stream(-1)

    threads = [threading.Thread(target=stream) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counted = (progress.pages, progress.rows_read, progress.rows_written, progress.files, progress.bytes)
    assert counted == (8000, 24000, 16000, 8000, 80000) and progress.busy == 0


def test_the_line_gives_rate_share_eta_and_only_this_runs_requests(clock: list[float]) -> None:
    governor = _Governor()
    progress = Progress(governor)  # type: ignore[arg-type]
    progress.total = 3000
    progress.stream(2)
    progress.page(read=1500, written=1200)
    progress.file(size=512)
    progress.file(size=512)
    clock[0] += 10  # 150 rows/s, 1,500 rows left
    governor.stats = SimpleNamespace(started=55, throttled=5, waits=1, limit=4)
    assert progress.line().split("; ") == [
        "1,500 rows read (1,200 written, 2 files)",
        "1 page",
        "150 rows/s",
        "2 streams busy",
        "50.0% of ~3,000, ETA 10 s",
        "15 requests (3 answered 429, 0 waited for a slot",
        "4 allowed at once)",
    ]


def test_without_a_total_there_is_no_share_nor_eta(clock: list[float]) -> None:
    progress = Progress(_Governor())  # type: ignore[arg-type]
    progress.page(read=50, written=50)
    clock[0] += 5
    assert "10 rows/s" in progress.line() and "%" not in progress.line() and "ETA" not in progress.line()


def test_before_the_first_row_the_eta_is_unknown(clock: list[float]) -> None:
    progress = Progress(_Governor())  # type: ignore[arg-type]
    progress.total = 100
    clock[0] += 5
    assert "0.0% of ~100, ETA unknown" in progress.line().split("; ")


def test_more_rows_than_counted_ends_the_eta_at_zero(clock: list[float]) -> None:
    progress = Progress(_Governor())  # type: ignore[arg-type]
    progress.total = 100
    progress.page(read=120, written=120)
    clock[0] += 2
    assert "120.0% of ~100, ETA 0 s" in progress.line()


def test_log_writes_the_line(caplog: pytest.LogCaptureFixture, clock: list[float]) -> None:
    progress = Progress(_Governor())  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="airflow_provider_bc.extraction.progress"):
        progress.log()
    assert caplog.messages == [f"Progress: {progress.line()}"]
