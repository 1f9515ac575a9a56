"""A reconciliation's arguments (``airflow_provider_bc.reconciliation.spec``): each bad one refused
naming it, the strategy ``auto`` picks, the OData filter and the fields read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.reconciliation.compare import Tolerance
from airflow_provider_bc.reconciliation.errors import ReconciliationError
from airflow_provider_bc.reconciliation.spec import ReconcileSpec, build_spec, tolerance_of, window_value

UTC = dt.timezone.utc
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)


def spec(**arguments: Any) -> ReconcileSpec:
    return build_spec(**{"entity_set": "itemLedgerEntries", "company_id": "c1", **arguments})


def refused(argument: str, **arguments: Any) -> ReconciliationError:
    with pytest.raises(ReconciliationError) as caught:
        spec(**arguments)
    assert caught.value.field == argument, str(caught.value)
    assert str(caught.value).startswith(f"{argument}: ") and not caught.value.transient
    return caught.value


@pytest.mark.parametrize(
    ("window", "argument"),
    [
        (("postingDate", "yesterday", "2024-01-02"), "window_start"),
        (("postingDate", "2024-01-01", "01/02/2024"), "window_end"),
        (("postingDate", "2022-06-02' OR '1'='1", "2024-01-02"), "window_start"),
        (("postingDate", None, "2024-01-02"), "window_start"),
        (("postingDate", dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, tzinfo=UTC)), "window_start"),
        (("postingDate", "2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00"), "window_end"),
        (("postingDate", "2024-01-02", "2024-01-01"), "window_end"),
        (("postingDate", "2024-01-02", "2024-01-02"), "window_end"),
        (("postingDate", "2024-01-02T00:00:00+00:00", "2024-01-02T01:00:00+02:00"), "window_end"),  # 23:00Z
        (("postingDate", dt.date(2024, 1, 1), "2024-01-02T00:00:00+00:00"), "window_end"),
        (("postingDate", "2024-01-01T00:00:00Z", dt.date(2024, 1, 2)), "window_end"),
        (("posting date", "2024-01-01", "2024-01-02"), "window_field"),
        ((7, "2024-01-01", "2024-01-02"), "window_field"),
    ],
)
def test_a_bad_window_is_refused_naming_its_part(window: tuple[Any, Any, Any], argument: str) -> None:
    refused(argument, window=window)


def test_a_naive_time_is_refused_asking_for_a_time_zone() -> None:
    error = refused("window_start", window=("postingDate", "2024-01-01T08:00:00", "2024-01-02T00:00:00Z"))
    assert "has no time zone" in str(error)


@pytest.mark.parametrize(
    ("fields", "argument"),
    [
        ({"quantity": -1}, "fields.quantity.absolute"),
        ({"quantity": "-0.01"}, "fields.quantity.absolute"),
        ({"quantity": float("nan")}, "fields.quantity.absolute"),
        ({"quantity": "NaN"}, "fields.quantity.absolute"),
        ({"quantity": float("inf")}, "fields.quantity.absolute"),
        ({"quantity": True}, "fields.quantity.absolute"),
        ({"quantity": "lots"}, "fields.quantity.absolute"),
        ({"quantity": {"relative": -0.5}}, "fields.quantity.relative"),
        ({"quantity": {"absolute": 1, "relative": False}}, "fields.quantity.relative"),
        ({"quantity": {"within": 1}}, "fields.quantity"),
        ({"quantity": {"absolute": 1, "percent": 2}}, "fields.quantity"),
        (["quantity; DROP"], "fields"),
        ({"quantity amount": None}, "fields"),
        ({"": None}, "fields"),
        ("quantity", "fields"),
        (5, "fields"),
        (["entryNumber"], "fields"),  # the key is compared by the merge
    ],
)
def test_bad_fields_and_tolerances_are_refused_naming_them(fields: Any, argument: str) -> None:
    refused(argument, fields=fields)


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"key": "entry number"}, "key"),
        ({"key": None}, "key"),
        ({"totals_by": ["posting date"]}, "totals_by"),
        ({"totals_by": "postingDate,item-number"}, "totals_by"),
        ({"freshness": "last modified"}, "freshness"),
        ({"strategy": "fast"}, "strategy"),
        ({"strategy": None}, "strategy"),
        ({"key": "id", "strategy": "counts"}, "strategy"),
        ({"key": "number", "fields": ["amount"], "strategy": "counts"}, "strategy"),
        ({"key": "id", "fields": {"id": None}}, "fields"),
    ],
)
def test_other_bad_arguments_are_refused_naming_them(arguments: dict[str, Any], argument: str) -> None:
    refused(argument, **arguments)


@pytest.mark.parametrize("entity_set", ["item ledger", "itemLedgerEntries?$top=1", "", None, 7])
def test_a_bad_entity_set_is_refused_naming_it(entity_set: Any) -> None:
    # checked by the client's EntitySet: a BusinessCentralQueryError (ReconciliationError's base), not transient
    with pytest.raises(BusinessCentralQueryError) as caught:
        spec(entity_set=entity_set)
    assert caught.value.field == "entity_set" and not caught.value.transient


@given(st.integers(-20_000, 20_000))
def test_samples_are_a_whole_number_from_0_to_10000(samples: int) -> None:
    if 0 <= samples <= 10_000:
        assert spec(samples=samples).samples == samples
    else:
        refused("samples", samples=samples)


@given(st.integers(-10, 10))
def test_max_streams_is_a_whole_number_from_1_to_5(streams: int) -> None:
    if 1 <= streams <= 5:
        assert spec(max_streams=streams).max_streams == streams
    else:
        refused("max_streams", max_streams=streams)


@pytest.mark.parametrize("value", [True, False, "5", 5.0, Decimal(5), None])
@pytest.mark.parametrize("argument", ["samples", "max_streams"])
def test_counts_that_are_not_ints_are_refused(argument: str, value: Any) -> None:
    refused(argument, **{argument: value})


@given(st.decimals(min_value=0, max_value=10**6, allow_nan=False, places=4), st.booleans())
def test_a_tolerance_at_or_above_zero_is_kept_exactly(bound: Decimal, as_text: bool) -> None:
    given_bound = str(bound) if as_text else bound
    assert tolerance_of(given_bound, "fields.x") == Tolerance(absolute=bound)
    assert tolerance_of({"relative": given_bound}, "fields.x") == Tolerance(relative=bound)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_a_float_tolerance_is_its_shortest_decimal(bound: float) -> None:
    assert tolerance_of(bound, "fields.x").absolute == Decimal(repr(bound))


def test_fields_become_tolerances_a_list_exact_a_mapping_as_given() -> None:
    assert spec(fields=["quantity", "amount"]).fields == {"quantity": Tolerance(), "amount": Tolerance()}
    made = spec(fields={"quantity": None, "amount": 0.01, "cost": {"absolute": "1", "relative": "0.001"}}).fields
    assert made == {
        "quantity": Tolerance(),
        "amount": Tolerance(absolute=Decimal("0.01")),
        "cost": Tolerance(absolute=Decimal(1), relative=Decimal("0.001")),
    }


@pytest.mark.parametrize(
    ("arguments", "chosen"),
    [
        ({}, "counts"),
        ({"fields": ["quantity"]}, "full"),
        ({"totals_by": ["postingDate"]}, "full"),
        ({"key": "id"}, "full"),
        ({"key": "number"}, "full"),
        ({"strategy": "full"}, "full"),
        ({"strategy": "counts"}, "counts"),
        ({"strategy": "full", "key": "id"}, "full"),
        ({"strategy": "counts", "fields": ["quantity"]}, "counts"),
    ],
)
def test_auto_counts_only_entry_numbers_with_nothing_else_to_compare(arguments: dict[str, Any], chosen: str) -> None:
    made = spec(**arguments)
    assert made.chosen == chosen
    assert made.streamed == (made.key == "entryNumber")


def test_auto_reads_the_rows_when_freshness_is_asked() -> None:
    assert spec(freshness="lastModifiedDateTime").chosen == "full"


def test_the_filter_of_a_date_window_and_an_extra_filter() -> None:
    window = ("postingDate", dt.date(2024, 1, 1), "2024-02-01")
    dated = "(postingDate ge 2024-01-01) and (postingDate lt 2024-02-01)"
    assert spec(window=window).bc_filter() == dated
    assert spec(window=window, filter="itemNumber eq '1100'").bc_filter() == f"(itemNumber eq '1100') and ({dated})"
    assert spec(filter="itemNumber eq '1100'").bc_filter() == "itemNumber eq '1100'"
    assert spec().bc_filter() is None and spec(filter="").bc_filter() is None and spec(filter="").filter is None


def test_a_time_window_is_filtered_in_utc() -> None:
    made = spec(window=("lastModifiedDateTime", "2024-01-01T08:00:00+02:00", "2024-01-01T12:30:00.5Z"))
    assert made.bc_filter() == (
        "(lastModifiedDateTime ge 2024-01-01T06:00:00Z) and (lastModifiedDateTime lt 2024-01-01T12:30:00.5Z)"
    )
    assert made.window is not None and made.window.describe() == {
        "field": "lastModifiedDateTime",
        "start": "2024-01-01T08:00:00+02:00",
        "end": "2024-01-01T12:30:00.500000+00:00",
    }


def test_a_filter_that_could_escape_its_parentheses_is_refused() -> None:
    with pytest.raises(ValueError, match="filter") as caught:
        spec(window=("postingDate", "2024-01-01", "2024-02-01"), filter="x eq 1) or (true").bc_filter()
    assert caught.value.field == "filter"  # type: ignore[attr-defined]


def test_the_columns_read_in_order_once_each() -> None:
    made = spec(
        fields=["quantity", "postingDate"],
        totals_by="postingDate, itemNumber",
        freshness="lastModifiedDateTime",
    )
    assert made.totals_by == ("postingDate", "itemNumber")
    assert made.columns() == ["entryNumber", "quantity", "postingDate", "itemNumber", "lastModifiedDateTime"]
    assert spec(totals_by=["entryNumber"], freshness="entryNumber").columns() == ["entryNumber"]


@given(
    NAMES.filter(lambda n: n != "entryNumber").map(lambda n: f"f_{n}"),
    st.lists(NAMES, max_size=6),
    st.lists(NAMES, max_size=4),
    st.none() | NAMES,
)
def test_columns_are_key_fields_groups_freshness_without_repeats(
    first: str, fields: list[str], groups: list[str], freshness: str | None
) -> None:
    fields = [n for n in [first, *fields] if n != "entryNumber"]
    made = spec(fields=fields, totals_by=groups, freshness=freshness)
    wanted = ["entryNumber", *fields, *groups, *([freshness] if freshness else [])]
    columns = made.columns()
    assert len(columns) == len(set(columns)) and set(columns) == set(wanted)
    assert columns == sorted(set(wanted), key=wanted.index)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2024, 1, 2), dt.date(2024, 1, 2)),
        ("2024-01-02", dt.date(2024, 1, 2)),
        (" 2024-01-02\n", dt.date(2024, 1, 2)),
        ("2024-01-02T10:00:00+02:00", dt.datetime(2024, 1, 2, 8, tzinfo=UTC)),
        ("2024-01-02T10:00:00Z", dt.datetime(2024, 1, 2, 10, tzinfo=UTC)),
        (dt.datetime(2024, 1, 2, 10, tzinfo=UTC), dt.datetime(2024, 1, 2, 10, tzinfo=UTC)),
    ],
)
def test_a_window_value_from_a_date_or_iso_text(value: Any, expected: dt.date) -> None:
    found = window_value(value, "window_start")
    assert found == expected and type(found) is type(expected)
    if isinstance(found, dt.datetime):
        assert found.utcoffset() is not None


@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), timezones=st.timezones()))
def test_any_aware_time_survives_its_iso_text(moment: dt.datetime) -> None:
    found = window_value(moment.isoformat(), "window_end")
    assert isinstance(found, dt.datetime) and found.astimezone(UTC) == moment.astimezone(UTC)
    assert window_value(moment, "window_end") is moment


@given(st.dates())
def test_any_date_survives_its_iso_text(day: dt.date) -> None:
    found = window_value(day.isoformat(), "window_end")
    assert found == day and type(found) is dt.date


def test_a_pendulum_start_and_a_text_end_make_a_window() -> None:
    made = spec(window=("postingDate", pendulum.datetime(2024, 1, 1, tz="UTC"), "2024-01-02T00:00:00+00:00"))
    assert made.window is not None


@pytest.mark.parametrize("day", ["2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "0000-01-01"])
def test_an_impossible_date_is_refused_naming_the_argument(day: str) -> None:
    error = refused("window_end", window=("postingDate", "2024-01-01", day))
    assert repr(day) in str(error) and "is not a date or an ISO 8601 time" in str(error)
    refused("window_start", window=("postingDate", f" {day}\n", "2024-01-01"))


@given(st.text(max_size=40) | st.from_regex(r"\s*\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?\s*", fullmatch=True))
def test_any_text_is_a_window_bound_or_refused_naming_the_argument(text: str) -> None:
    try:
        found = window_value(text, "window_start")
    except ReconciliationError as error:  # never a bare ValueError from the parsers
        assert error.field == "window_start"
    else:
        assert found.utcoffset() is not None if isinstance(found, dt.datetime) else type(found) is dt.date
