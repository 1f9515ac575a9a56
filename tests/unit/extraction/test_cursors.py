"""Extraction decisions without a server: number text, cursors' windows, key ranges, $metadata types."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError, BusinessCentralQueryError
from airflow_provider_bc.extraction import exact_json
from airflow_provider_bc.extraction.cursors import CursorOptions, Window, plan_window
from airflow_provider_bc.extraction.partitions import range_filters
from airflow_provider_bc.extraction.schema import arrow_schema, entity_type

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | decimals | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(values)
def test_exact_json_gives_back_every_value_and_every_digit(value: Any) -> None:
    text = exact_json.dumps(value)
    assert exact_json.loads(text) == value
    assert exact_json.dumps(exact_json.loads(text)) == text  # the number text itself survives


@pytest.mark.parametrize("number", ["12.50", "0.10", "-0.0", "1E+3", "1234567890.123456789012"])
def test_a_decimal_keeps_the_api_text(number: str) -> None:
    assert exact_json.dumps(exact_json.loads(f'{{"amount":{number}}}')) == f'{{"amount":{number}}}'


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


@given(st.integers(1, 10**9), st.integers(0, 10**6), st.integers(1, 40))
def test_key_ranges_cover_the_span_once(first: int, width: int, parts: int) -> None:
    last = first + width
    bounds = [tuple(map(int, re.findall(r"entryNumber (?:ge|lt) (\d+)", f))) for f in range_filters(first, last, parts)]
    assert 1 <= len(bounds) <= parts
    assert bounds[0][0] == first and bounds[-1][1] == last + 1
    assert all(low < high for low, high in bounds) and all(a[1] == b[0] for a, b in itertools.pairwise(bounds))


METADATA = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
<Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">
<EnumType Name="entryType"><Member Name="Sale" Value="1"/></EnumType>
<EntityType Name="itemLedgerEntry"><Key><PropertyRef Name="id"/></Key>
<Property Name="id" Type="Edm.Guid"/><Property Name="entryNumber" Type="Edm.Int32"/>
<Property Name="entryType" Type="Microsoft.NAV.entryType"/><Property Name="postingDate" Type="Edm.Date"/>
<Property Name="quantity" Type="Edm.Decimal" Scale="Variable"/>
<Property Name="lastModifiedDateTime" Type="Edm.DateTimeOffset"/></EntityType>
<EntityContainer Name="NAV"><EntitySet Name="itemLedgerEntries" EntityType="Microsoft.NAV.itemLedgerEntry"/>
</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"""


def test_metadata_types_become_arrow_types_and_unknown_fields_are_named() -> None:
    import pyarrow as pa

    entity = entity_type(METADATA, "itemLedgerEntries")
    schema = arrow_schema(entity)
    assert schema.field("quantity").type == pa.decimal128(38, 18)
    assert schema.field("postingDate").type == pa.date32() and schema.field("entryNumber").type == pa.int32()
    assert schema.field("entryType").type == pa.string() and schema.field("id").type == pa.string()
    assert schema.field("lastModifiedDateTime").type == pa.timestamp("us", tz="UTC")
    with pytest.raises(BusinessCentralQueryError, match="noSuchField") as caught:
        entity.check_fields(["id", "noSuchField"], "select")
    assert caught.value.field == "select"
    with pytest.raises(BusinessCentralQueryError, match="itemLedgerEntries"):
        entity_type(METADATA, "generalLedgerEntries")
    with pytest.raises(BusinessCentralBadAnswerError, match=r"\$metadata"):
        entity_type("<html>", "itemLedgerEntries")
