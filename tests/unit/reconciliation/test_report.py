"""The report of a reconciliation (``airflow_provider_bc.reconciliation.report``): failure thresholds checked
naming the argument, the counts and samples as JSON-able data, the thresholds exceeded, the one-line summary."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.reconciliation.compare import Differences, Tolerance, compare
from airflow_provider_bc.reconciliation.errors import ReconciliationError
from airflow_provider_bc.reconciliation.report import (
    DEFAULT_FAIL_ON,
    counts_of,
    fail_on_of,
    failures,
    samples_of,
    summary_line,
)
from airflow_provider_bc.reconciliation.spec import KINDS

COUNT_KEYS = ("missing", "extra", "duplicate_business_central", "duplicate_warehouse", "changed", "totals")


def test_no_thresholds_are_the_defaults_a_copy_of_them() -> None:
    made = fail_on_of(None)
    assert made == {"missing": 0, "extra": 0, "duplicate": 0, "changed": 0, "totals": 0} == dict(DEFAULT_FAIL_ON)
    made["missing"] = 5
    assert DEFAULT_FAIL_ON["missing"] == 0 and fail_on_of(None)["missing"] == 0


def test_given_thresholds_are_kept_and_only_those() -> None:
    assert fail_on_of({"missing": 10, "changed": 0}) == {"missing": 10, "changed": 0}
    assert fail_on_of({}) == {}


@pytest.mark.parametrize(
    ("value", "argument"),
    [
        ([("missing", 1)], "fail_on"),
        ("missing", "fail_on"),
        (0, "fail_on"),
        ({"lost": 1}, "fail_on"),
        ({"duplicate_warehouse": 0}, "fail_on"),
        ({"missing": -1}, "fail_on.missing"),
        ({"extra": 1.0}, "fail_on.extra"),
        ({"extra": "1"}, "fail_on.extra"),
        ({"changed": True}, "fail_on.changed"),
        ({"totals": None}, "fail_on.totals"),
    ],
)
def test_bad_thresholds_are_refused_naming_them(value: Any, argument: str) -> None:
    with pytest.raises(ReconciliationError) as caught:
        fail_on_of(value)
    assert caught.value.field == argument and not caught.value.transient


@given(st.dictionaries(st.sampled_from(KINDS), st.integers(0, 10**9)))
def test_any_whole_numbers_at_or_above_zero_are_thresholds(value: dict[str, int]) -> None:
    assert fail_on_of(value) == value


def seeded() -> Differences:
    ours = [
        {"entryNumber": 1, "amount": Decimal("1.00")},
        {"entryNumber": 2, "amount": Decimal("2.00")},
        {"entryNumber": 2, "amount": Decimal("2.00")},
        {"entryNumber": 3, "amount": Decimal("3.00"), "day": dt.date(2024, 1, 1)},
        {"entryNumber": 5, "amount": Decimal("5.00")},
    ]
    theirs = [
        {"entryNumber": 2, "amount": Decimal("2.00")},
        {"entryNumber": 3, "amount": Decimal("3.50"), "day": "2024-01-02"},
        {"entryNumber": 4, "amount": Decimal("4.00")},
        {"entryNumber": 4, "amount": Decimal("4.00")},
        {"entryNumber": 4, "amount": Decimal("4.00")},
        {"entryNumber": 5, "amount": Decimal("5.00")},
    ]
    fields = {"amount": Tolerance(absolute=Decimal("0.1")), "day": Tolerance()}
    return compare(ours, theirs, key="entryNumber", fields=fields, samples=10)


def test_counts_are_each_kind_and_the_totals_beyond() -> None:
    counts = counts_of(seeded(), 7)
    assert counts == {
        "missing": 1,
        "extra": 1,
        "duplicate_business_central": 1,
        "duplicate_warehouse": 2,
        "changed": 1,
        "totals": 7,
    }
    assert tuple(counts) == COUNT_KEYS


def test_samples_are_json_keys_and_changes_with_both_values() -> None:
    samples = samples_of(seeded())
    assert samples == {
        "missing": [1],
        "extra": [4],
        "duplicate_business_central": [2],
        "duplicate_warehouse": [4, 4],
        "changed": [
            {
                "key": 3,
                "fields": [
                    {"field": "amount", "business_central": "3.00", "warehouse": "3.50", "difference": "0.50"},
                    {"field": "day", "business_central": "2024-01-01", "warehouse": "2024-01-02", "difference": None},
                ],
            }
        ],
    }
    assert json.loads(json.dumps(samples)) == samples


def test_sample_keys_keep_json_types_and_turn_the_rest_to_text() -> None:
    ours = [{"k": key} for key in (None, False, "a", 7, Decimal("7.5"), dt.date(2024, 1, 1))]
    found = compare([], [], key="k", fields={})
    for row in ours:
        found.missing.add(row["k"])
    assert samples_of(found)["missing"] == [None, False, "a", 7, "7.5", "2024-01-01"]
    assert [type(key) for key in samples_of(found)["missing"][:4]] == [type(None), bool, str, int]


def counts(**given: int) -> dict[str, int]:
    return {**dict.fromkeys(COUNT_KEYS, 0), **given}


@pytest.mark.parametrize(
    ("found", "fail_on", "failed"),
    [
        (counts(), dict(DEFAULT_FAIL_ON), []),
        (counts(missing=1), dict(DEFAULT_FAIL_ON), ["missing: 1 > 0"]),
        (counts(missing=3), {"missing": 3}, []),
        (counts(missing=4), {"missing": 3}, ["missing: 4 > 3"]),
        (counts(extra=9, changed=2), {"missing": 0}, []),  # kinds not named do not fail
        (counts(duplicate_business_central=1, duplicate_warehouse=1), {"duplicate": 1}, ["duplicate: 2 > 1"]),
        (counts(duplicate_warehouse=1), {"duplicate": 1}, []),
        (
            counts(missing=1, extra=2, changed=3, totals=4),
            {"totals": 0, "changed": 2, "extra": 2, "missing": 0},
            ["totals: 4 > 0", "changed: 3 > 2", "missing: 1 > 0"],
        ),
    ],
)
def test_failures_are_the_thresholds_exceeded_in_their_order(
    found: dict[str, int], fail_on: dict[str, int], failed: list[str]
) -> None:
    assert failures(found, fail_on) == failed


def report(**overrides: Any) -> dict[str, Any]:
    return {
        "entity_set": "itemLedgerEntries",
        "strategy": "full",
        "window": {"field": "postingDate", "start": "2024-01-01", "end": "2024-02-01"},
        "rows": {"business_central": 120, "warehouse": 118},
        "counts": {"missing": 2, "extra": 0, "changed": 1},
        "gaps": 3,
        **overrides,
    }


def test_the_summary_line_says_what_was_compared_and_found() -> None:
    assert summary_line(report()) == (
        "itemLedgerEntries postingDate 2024-01-01..2024-02-01 (full): Business Central 120 rows, "
        "warehouse 118 rows; missing 2, extra 0, changed 1, 3 gaps (not misses)"
    )


def test_the_summary_line_without_a_window_or_gaps() -> None:
    line = summary_line(report(window=None, gaps=None, strategy="counts"))
    assert line == (
        "itemLedgerEntries (counts): Business Central 120 rows, warehouse 118 rows; missing 2, extra 0, changed 1"
    )
    assert summary_line({k: v for k, v in report().items() if k not in ("window", "gaps")}) == line.replace(
        "counts", "full"
    )
    assert summary_line(report(gaps=0)).endswith(", 0 gaps (not misses)")
