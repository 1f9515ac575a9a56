"""What is summed and watched as rows pass (``airflow_provider_bc.reconciliation.totals``): sums per group on
each side in exact decimals, the groups beyond their tolerance, and the newest change on each side."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.reconciliation.compare import Tolerance
from airflow_provider_bc.reconciliation.totals import SIDES, GroupTotals, Newest

FIELDS = {"quantity": Tolerance(), "amount": Tolerance(absolute=Decimal("0.01"))}


def tapped(tap: Any, rows: list[dict[str, Any]], side: int) -> list[dict[str, Any]]:
    return list(tap.tap(rows, side))


def test_rows_pass_unchanged_and_in_order() -> None:
    rows: list[dict[str, Any]] = [{"day": "2024-01-01", "quantity": 1}, {"day": "2024-01-02", "quantity": "x"}, {}]
    totals = GroupTotals(("day",), FIELDS)
    newest = Newest("day")
    passed = list(newest.tap(totals.tap(rows, 0), 0))
    assert passed == rows and all(a is b for a, b in zip(passed, rows, strict=True))


def test_sums_per_group_and_side_in_exact_decimals() -> None:
    totals = GroupTotals(("day", "item"), FIELDS)
    tapped(
        totals,
        [
            {"day": "2024-01-01", "item": "A", "quantity": 1, "amount": 0.1},
            {"day": "2024-01-01", "item": "A", "quantity": 2, "amount": 0.2},
            {"day": "2024-01-01", "item": "B", "quantity": 5, "amount": Decimal("1.005")},
        ],
        0,
    )
    tapped(totals, [{"day": dt.date(2024, 1, 1), "item": "A", "quantity": Decimal("3.0"), "amount": "0.3"}], 1)
    assert totals.sums == {
        ("2024-01-01", "A"): {"quantity": [Decimal(3), Decimal(3)], "amount": [Decimal("0.3"), Decimal(0)]},
        ("2024-01-01", "B"): {"quantity": [Decimal(5), Decimal(0)], "amount": [Decimal("1.005"), Decimal(0)]},
    }  # a date and its ISO text are one group; text "0.3" is no number; 0.1 + 0.2 is exactly 0.3


def test_values_that_are_no_numbers_are_left_out_of_the_sums() -> None:
    totals = GroupTotals(("day",), {"quantity": Tolerance()})
    tapped(
        totals, [{"day": 1, "quantity": None}, {"day": 1, "quantity": True}, {"day": 1}, {"day": 1, "quantity": 4}], 1
    )
    assert totals.sums == {(Decimal(1),): {"quantity": [Decimal(0), Decimal(4)]}}


def test_rows_without_the_group_fields_are_one_group_of_nones() -> None:
    totals = GroupTotals(("day",), {"quantity": Tolerance()})
    tapped(totals, [{"quantity": 2}, {"day": None, "quantity": 3}], 0)
    assert totals.sums == {(None,): {"quantity": [Decimal(5), Decimal(0)]}}
    assert totals.beyond_tolerance(5) == (
        1,
        [{"group": {"day": None}, "field": "quantity", "business_central": "5", "warehouse": "0", "difference": "-5"}],
    )


def test_beyond_tolerance_counts_each_group_and_field_and_samples_the_first() -> None:
    totals = GroupTotals(("day",), FIELDS)
    tapped(
        totals,
        [
            {"day": "2024-01-03", "quantity": 1, "amount": "9.99"},
            {"day": "2024-01-01", "quantity": 1, "amount": Decimal("10.00")},
            {"day": "2024-01-02", "quantity": 1, "amount": Decimal("10.00")},
        ],
        0,
    )
    tapped(
        totals,
        [
            {"day": "2024-01-01", "quantity": 2, "amount": Decimal("10.01")},  # quantity beyond, amount within
            {"day": "2024-01-02", "quantity": 1, "amount": Decimal("10.02")},  # amount beyond
            {"day": "2024-01-03", "quantity": 0, "amount": Decimal("9.99")},  # quantity beyond; "9.99" is text
        ],
        1,
    )
    count, samples = totals.beyond_tolerance(20)
    assert count == 4
    assert samples == [
        {
            "group": {"day": "2024-01-01"},
            "field": "quantity",
            "business_central": "1",
            "warehouse": "2",
            "difference": "1",
        },
        {
            "group": {"day": "2024-01-02"},
            "field": "amount",
            "business_central": "10.00",
            "warehouse": "10.02",
            "difference": "0.02",
        },
        {
            "group": {"day": "2024-01-03"},
            "field": "quantity",
            "business_central": "1",
            "warehouse": "0",
            "difference": "-1",
        },
        {
            "group": {"day": "2024-01-03"},
            "field": "amount",
            "business_central": "0",
            "warehouse": "9.99",
            "difference": "9.99",
        },
    ]
    assert totals.beyond_tolerance(1) == (4, samples[:1])
    assert totals.beyond_tolerance(0) == (4, [])


def test_a_relative_tolerance_allows_sums_that_far_apart() -> None:
    totals = GroupTotals(("day",), {"amount": Tolerance(relative=Decimal("0.01"))})
    tapped(totals, [{"day": 1, "amount": 100}, {"day": 2, "amount": 100}], 0)
    tapped(totals, [{"day": 1, "amount": 101}, {"day": 2, "amount": Decimal("101.5")}], 1)
    count, samples = totals.beyond_tolerance(5)
    assert count == 1 and samples[0]["group"] == {"day": "2"} and samples[0]["difference"] == "1.5"


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.integers(-1000, 1000), st.booleans()), max_size=40))
def test_sums_match_a_plain_sum_and_equal_sides_are_never_beyond(rows: list[tuple[str, int, bool]]) -> None:
    totals = GroupTotals(("item",), {"quantity": Tolerance()})
    ours = [{"item": item, "quantity": quantity} for item, quantity, _ in rows]
    theirs = [{"item": item, "quantity": Decimal(quantity)} for item, quantity, _ in reversed(rows)]
    tapped(totals, ours, 0)
    tapped(totals, theirs, 1)
    for item in {item for item, _, _ in rows}:
        expected = Decimal(sum(q for i, q, _ in rows if i == item))
        assert totals.sums[(item,)]["quantity"] == [expected, expected]
    assert totals.beyond_tolerance(10) == (0, [])
    shifted = [{"item": item, "quantity": 1} for item, _, bump in rows if bump]
    tapped(totals, shifted, 1)
    assert totals.beyond_tolerance(10)[0] == len({row["item"] for row in shifted})


def test_newest_is_the_latest_value_on_each_side_as_instants() -> None:
    newest = Newest("lastModifiedDateTime")
    assert newest.describe() == {"business_central": None, "warehouse": None}
    tapped(
        newest,
        [
            {"lastModifiedDateTime": "2024-01-01T10:00:00+02:00"},  # 08:00Z
            {"lastModifiedDateTime": "2024-01-01T09:00:00Z"},
            {"lastModifiedDateTime": None},
            {},
        ],
        0,
    )
    tapped(
        newest,
        [
            {"lastModifiedDateTime": dt.datetime(2024, 1, 1, 8, 30, tzinfo=dt.timezone.utc)},
            {"lastModifiedDateTime": dt.datetime(2024, 1, 1, 8, 0)},  # naive: UTC
        ],
        1,
    )
    assert newest.describe() == {
        "business_central": "2024-01-01T09:00:00.000000Z",
        "warehouse": "2024-01-01T08:30:00.000000Z",
    }
    assert tuple(newest.describe()) == SIDES == ("business_central", "warehouse")


@given(st.lists(st.datetimes(min_value=dt.datetime(1900, 1, 1), timezones=st.timezones()), min_size=1, max_size=20))
def test_newest_of_any_times_is_their_maximum_instant(moments: list[dt.datetime]) -> None:
    newest = Newest("at")
    tapped(newest, [{"at": moment.isoformat()} for moment in moments], 1)
    latest = max(moment.astimezone(dt.timezone.utc) for moment in moments)
    assert newest.describe()["warehouse"] == latest.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert newest.newest[0] is None
