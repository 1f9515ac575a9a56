"""Counts said with their noun in the right number (``client/wording.py``, shared by every layer), as the
extraction's progress line says them: "1 file", never "1 files"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_bc.client.wording import counted, plural, word_for
from airflow_provider_bc.extraction.progress import Progress


@pytest.mark.parametrize(
    ("noun", "nouns"),
    [
        ("file", "files"),
        ("row", "rows"),
        ("entry", "entries"),
        ("company", "companies"),
        ("day", "days"),
        ("key", "keys"),
        ("batch", "batches"),
        ("pass", "passes"),
        ("box", "boxes"),
        ("y", "ys"),
    ],
)
def test_plural_is_the_regular_english_one(noun: str, nouns: str) -> None:
    assert plural(noun) == nouns


@pytest.mark.parametrize(
    ("count", "said"),
    [(0, "0 files"), (1, "1 file"), (2, "2 files"), (-1, "-1 files"), (20_001, "20,001 files")],
)
def test_one_is_singular_and_every_other_count_plural(count: int, said: str) -> None:
    assert counted(count, "file") == said


def test_an_irregular_plural_is_given() -> None:
    assert counted(1, "child", "children") == "1 child" and counted(3, "child", "children") == "3 children"
    assert word_for(1, "entry") == "entry" and word_for(2, "entry") == "entries"


def test_the_progress_line_says_one_file_one_page_one_stream_one_request() -> None:
    governor = SimpleNamespace(stats=SimpleNamespace(started=0, throttled=0, waits=0, limit=5))
    progress = Progress(governor)  # type: ignore[arg-type]
    progress.stream(+1)
    progress.page(read=1, written=1)
    progress.file(size=10)
    governor.stats = SimpleNamespace(started=1, throttled=0, waits=0, limit=5)
    parts = progress.line().split("; ")
    assert parts[0] == "1 row read (1 written, 1 file)", parts
    assert parts[1] == "1 page" and parts[3] == "1 stream busy" and parts[4].startswith("1 request ("), parts
