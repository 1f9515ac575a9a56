"""manifest_of: what a run's manifest says about its files, its cursor's settled mark and open range."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_provider_bc import __version__
from airflow_provider_bc.extraction.commit import manifest_of
from airflow_provider_bc.extraction.cursors import CursorOptions, plan_window
from airflow_provider_bc.extraction.files import PARQUET_COMPRESSION, WrittenFile
from airflow_provider_bc.extraction.shapes import manifest_problem
from airflow_provider_bc.extraction.spec import ExtractionSpec
from airflow_provider_bc.extraction.state import Checkpoint, StreamState

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
SOURCE = {"host": "https://bc", "tenant": "t", "environment": "production", "api_route": "api/v2.0"}
T1, T2 = "2024-06-01T11:50:00Z", "2024-06-01T11:55:00Z"


def _manifest(kind: str, streams: list[StreamState], previous: dict[str, Any] | None = None, **spec: Any) -> Any:
    options = CursorOptions(kind=kind)  # type: ignore[arg-type]
    window = plan_window(options, None, previous, NOW)
    plan = {"window": window.to_dict(), "select": None, "schema": {"id": "Edm.Guid"}, "based_on": "run-0"}
    checkpoint = Checkpoint(plan, streams, "2024-06-01T12:00:01Z")
    run = ExtractionSpec("itemLedgerEntries", "ABCD", "run-1", cursor=options, **spec)
    return manifest_of(run, "series-1", SOURCE, checkpoint, NOW + dt.timedelta(minutes=5)), window


def _stream(index: int, *files: tuple[int, int], **state: Any) -> StreamState:
    written = [WrittenFile(f"part-{index}-{n}.ndjson.gz", rows, size, "0" * 64) for n, (rows, size) in enumerate(files)]
    return StreamState(index, None, files=written, **state)


def test_files_rows_and_bytes_add_up_across_streams_and_each_file_names_its_stream() -> None:
    streams = [_stream(0, (10, 100), (5, 60), rows_read=16), _stream(1, (7, 70), rows_read=7), _stream(2)]
    manifest, window = _manifest("full", streams)
    assert [(f["name"], f["stream"]) for f in manifest["files"]] == [
        ("part-0-0.ndjson.gz", 0),
        ("part-0-1.ndjson.gz", 0),
        ("part-1-0.ndjson.gz", 1),
    ]
    assert (manifest["rows"], manifest["bytes"], manifest["rows_read"]) == (22, 230, 23)
    assert manifest["cursor"] == {**window.cursor, "settled": None, "open": None, "open_rows": [], "watermark": None}
    assert manifest["query"]["company_id"] == "abcd" and manifest["query"]["passes"] == window.passes
    assert (manifest["run"], manifest["series"], manifest["based_on"]) == ("run-1", "series-1", "run-0")
    assert manifest["finished"] == "2024-06-01T12:05:00Z" and manifest["provider_version"] == __version__
    assert manifest_problem(manifest) is None  # what a run writes is what a run trusts


def test_an_entry_number_run_settles_at_the_highest_settled_number_and_keeps_the_rows_above_it() -> None:
    streams = [
        _stream(0, settles=150, recent=[["a", T1, 160], ["b", T1, 140]], max_entry_number=160),
        _stream(1, recent=[["c", T2, 170], ["a", T1, 160]], max_entry_number=170),
        _stream(2, settles=120, max_entry_number=None),
    ]
    manifest, _ = _manifest("entry_number", streams, {"cursor": {"settled": 100}})
    cursor = manifest["cursor"]
    assert cursor["settled"] == cursor["watermark"] == 150
    assert cursor["open"] == {"after": 150, "through": 170}
    assert cursor["open_rows"] == [["a", T1], ["c", T2]]  # once each, sorted; b (140) is settled
    assert manifest["max_entry_number"] == 170


def test_an_entry_number_run_settles_no_lower_than_where_it_started() -> None:
    manifest, _ = _manifest("entry_number", [_stream(0, settles=90)], {"cursor": {"settled": 100}})
    assert manifest["cursor"]["settled"] == 100 and manifest["cursor"]["open"] == {"after": 100, "through": 100}


def test_a_first_entry_number_run_without_settled_rows_keeps_every_row_open() -> None:
    manifest, _ = _manifest("entry_number", [_stream(0, recent=[["x", T2, 3], ["y", T1, 2]])])
    assert manifest["cursor"]["settled"] is None
    assert manifest["cursor"]["open"] == {"after": None, "through": 3}
    assert manifest["cursor"]["open_rows"] == [["x", T2], ["y", T1]]


def test_a_last_modified_run_settles_at_its_window_and_keeps_every_recent_row() -> None:
    streams = [_stream(0, recent=[["b", T2, None], ["a", T1, None]]), _stream(1, recent=[["a", T1, None]])]
    manifest, window = _manifest("last_modified", streams)
    cursor = manifest["cursor"]
    assert cursor["settled"] == cursor["watermark"] == window.cursor["settled"] == "2024-06-01T11:45:00Z"
    assert cursor["open"] == {"from": "2024-06-01T11:45:00Z", "to": "2024-06-01T12:00:00Z"}
    assert cursor["open_rows"] == [["a", T1], ["b", T2]]
    assert manifest_problem(manifest) is None


def test_the_latest_modification_is_compared_as_a_time_not_as_text() -> None:
    streams = [
        _stream(0, max_last_modified="2024-06-01T12:00:00+02:00"),  # 10:00 UTC: the larger text
        _stream(1, max_last_modified="2024-06-01T11:00:00Z"),
        _stream(2),
    ]
    manifest, _ = _manifest("full", streams)
    assert manifest["max_last_modified"] == "2024-06-01T11:00:00Z" and manifest["max_entry_number"] is None


@pytest.mark.parametrize(
    ("spec", "compression"),
    [({}, "gzip"), ({"compress": False}, None), ({"output_format": "parquet"}, PARQUET_COMPRESSION)],
)
def test_the_format_says_how_the_files_are_compressed(spec: dict[str, Any], compression: str | None) -> None:
    manifest, _ = _manifest("full", [_stream(0)], **spec)
    assert manifest["format"] == {"type": spec.get("output_format", "ndjson"), "compression": compression}
