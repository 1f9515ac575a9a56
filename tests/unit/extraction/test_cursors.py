"""Cursors' windows without a server: the passes, settled marks and skipped rows of each kind of run."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.extraction.cursors import CursorOptions, Window, plan_window

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def _clauses(text: str | None) -> set[str]:
    return set(re.findall(r"\(([^()]*)\)", text or "")) or {text or ""}


def test_a_first_last_modified_run_reads_everything_before_it_was_planned() -> None:
    window = plan_window(CursorOptions(kind="last_modified"), None, None, NOW)
    assert window.passes == ("lastModifiedDateTime lt 2024-06-01T12:00:00Z",)  # 0001-01-01 rows included
    assert window.cursor["settled"] == "2024-06-01T11:45:00Z" and window.restate is None  # 15 min commit lag
    assert window.horizon == "2024-06-01T11:45:00Z"


def test_the_next_run_starts_at_the_settled_time_and_skips_what_was_delivered_above_it() -> None:
    previous = {"cursor": {"settled": "2024-05-31T11:50:00Z", "open_rows": [["id-1", "2024-05-31T11:58:00Z"]]}}
    options = CursorOptions(kind="last_modified", commit_lag=dt.timedelta(minutes=10), restate_days=2, today=NOW.date())
    window = plan_window(options, "itemNumber eq '1100'", previous, NOW)
    (main,) = window.passes
    assert _clauses(main) == {
        "itemNumber eq '1100'",
        "lastModifiedDateTime ge 2024-05-31T11:50:00Z",
        "lastModifiedDateTime lt 2024-06-01T12:00:00Z",
        "postingDate lt 2024-05-30",
    }
    assert _clauses(window.restate) == {"itemNumber eq '1100'", "postingDate ge 2024-05-30"}  # disjoint by date
    assert window.skip == {("id-1", "2024-05-31T11:58:00Z")}
    assert window.cursor["settled"] == window.horizon == "2024-06-01T11:50:00Z"
    assert Window.from_dict(json.loads(json.dumps(window.to_dict()))) == window


def test_an_entry_number_run_starts_above_the_settled_number_and_skips_the_open_rows() -> None:
    previous = {"cursor": {"settled": 4711, "open_rows": [["id-9", "2024-06-01T11:59:00Z"]]}}
    window = plan_window(CursorOptions(kind="entry_number"), None, previous, NOW)
    assert window.passes == ("entryNumber gt 4711",) and window.cursor["from"] == 4711
    assert window.skip == {("id-9", "2024-06-01T11:59:00Z")} and window.horizon == "2024-06-01T11:45:00Z"
    assert plan_window(CursorOptions(kind="entry_number"), None, None, NOW).passes == (None,)


@pytest.mark.parametrize(("start", "expected"), [("4711", 4711), (" 12 ", 12), (0, 0), (4711, 4711)])
def test_an_entry_number_start_may_be_templated_text(start: Any, expected: int) -> None:
    window = plan_window(CursorOptions(kind="entry_number", start=start), None, None, NOW)
    assert window.passes == (f"entryNumber gt {expected}",) and window.skip == frozenset()


@pytest.mark.parametrize("start", ["abc", "4.5", True, -1, 4.0, "2024-01-01"])
def test_an_entry_number_start_that_is_no_entry_number_is_refused(start: Any) -> None:
    with pytest.raises(BusinessCentralQueryError, match=re.escape(repr(start))) as caught:
        CursorOptions(kind="entry_number", start=start)
    assert caught.value.field == "cursor_start"


def test_a_data_interval_window_reads_the_previous_open_tail_and_its_first_run_the_never_modified_rows() -> None:
    interval = (dt.datetime(2024, 5, 31, tzinfo=dt.timezone.utc), dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc))
    first = plan_window(CursorOptions(kind="last_modified", interval=interval), None, None, NOW)
    assert first.passes == (
        "(lastModifiedDateTime ge 2024-05-30T23:45:00Z) and (lastModifiedDateTime lt 2024-06-01T00:00:00Z)",
        "lastModifiedDateTime eq 0001-01-01T00:00:00Z",
    )
    adjoining = {"cursor": {"to": "2024-05-31T00:00:00Z", "open_rows": [["id-2", "2024-05-30T23:50:00Z"]]}}
    later = plan_window(CursorOptions(kind="last_modified", interval=interval), None, adjoining, NOW)
    assert len(later.passes) == 1 and later.cursor["settled"] == "2024-05-31T23:45:00Z"
    assert later.skip == {("id-2", "2024-05-30T23:50:00Z")}
    # a later interval run (a backfill of an earlier one): nothing skipped
    later_run = {"cursor": {"to": "2024-06-01T06:00:00Z", "open_rows": [["id-2", "2024-05-30T23:50:00Z"]]}}
    assert plan_window(CursorOptions(kind="last_modified", interval=interval), None, later_run, NOW).skip == set()
    # intervals skipped since the previous run (a paused DAG): read from where it settled
    paused = {"cursor": {"to": "2024-05-20T00:00:00Z", "settled": "2024-05-19T23:45:00Z", "open_rows": []}}
    resumed = plan_window(CursorOptions(kind="last_modified", interval=interval), None, paused, NOW)
    assert resumed.cursor["from"] == "2024-05-19T23:45:00Z" and "ge 2024-05-19T23:45:00Z" in (resumed.passes[0] or "")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"kind": "newest"}, "cursor"),
        ({"kind": "last_modified", "restate_days": -1}, "restate_days"),
        ({"kind": "full", "restate_days": 2}, "cursor"),
        ({"kind": "last_modified", "commit_lag": dt.timedelta(minutes=-1)}, "commit_lag"),
        ({"kind": "last_modified", "commit_lag": 600}, "commit_lag"),
    ],
)
def test_bad_cursor_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(BusinessCentralQueryError) as caught:
        CursorOptions(**options)
    assert caught.value.field == field
