"""Two key-ordered sides merged in one pass (``reconciliation/compare.py``): each seeded difference found
exactly and nothing else, sequence gaps kept apart, bad input refused naming the key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.reconciliation.compare import Tolerance, compare
from airflow_provider_bc.reconciliation.errors import ReconciliationError

FIELDS = {"quantity": Tolerance(), "amount": Tolerance(absolute=Decimal("0.01"))}


def entry(number: int, quantity: int = 1, amount: str = "10.00") -> dict[str, Any]:
    return {"entryNumber": number, "quantity": quantity, "amount": Decimal(amount), "postingDate": "2024-01-02"}


@given(
    st.lists(st.integers(1, 10_000), min_size=1, max_size=60, unique=True).map(sorted),
    st.data(),
)
def test_each_seeded_difference_is_found_exactly_and_nothing_else(numbers: list[int], data: st.DataObject) -> None:
    ours = [entry(n) for n in numbers]
    pick = st.sets(st.sampled_from(numbers), max_size=len(numbers))
    missing, changed, within, doubled = (data.draw(pick) for _ in range(4))
    changed -= missing
    within -= missing | changed
    doubled -= missing
    extra = data.draw(st.sets(st.integers(10_001, 10_100), max_size=5))
    theirs: list[dict[str, Any]] = []
    for row in ours:
        number = row["entryNumber"]
        if number in missing:
            continue
        copy = dict(row)
        if number in changed:
            copy["amount"] = Decimal("10.02")  # beyond 0.01
        if number in within:
            copy["amount"] = Decimal("10.01")  # within 0.01
        theirs += [copy, copy] if number in doubled else [copy]
    theirs += [entry(n) for n in sorted(extra)]
    found = compare(ours, theirs, key="entryNumber", fields=FIELDS, samples=1000)
    assert set(found.missing.samples) == missing and found.missing.count == len(missing)
    assert set(found.extra.samples) == extra and found.extra.count == len(extra)
    assert set(found.duplicate_warehouse.samples) == doubled and found.duplicate_business_central.count == 0
    assert {changes[0].key for changes in found.changed.samples} == changed
    assert found.changed_by_field == ({"amount": len(changed)} if changed else {})
    assert found.rows_business_central == len(ours) and found.rows_warehouse == len(theirs)
    assert found.gaps == numbers[-1] - numbers[0] + 1 - len(numbers)  # numbers no row holds: no difference
    assert found.found == bool(missing or extra or doubled or changed)


def test_a_change_says_both_values_and_their_difference() -> None:
    found = compare([entry(1, 5, "10.00")], [entry(1, 4, "12.50")], key="entryNumber", fields=FIELDS)
    (changes,) = found.changed.samples
    assert [(c.field, c.business_central, c.warehouse, c.difference) for c in changes] == [
        ("quantity", 5, 4, Decimal(-1)),
        ("amount", Decimal("10.00"), Decimal("12.50"), Decimal("2.50")),
    ]


def test_a_relative_tolerance_scales_with_the_larger_value() -> None:
    fields = {"amount": Tolerance(relative=Decimal("0.001"))}
    assert not compare([entry(1, amount="1000")], [entry(1, amount="1001")], key="entryNumber", fields=fields).found
    assert compare([entry(1, amount="1000")], [entry(1, amount="1002")], key="entryNumber", fields=fields).found


def test_values_of_other_types_compare_as_the_same_value() -> None:
    ours = [{"id": 1, "postingDate": "2024-01-02", "quantity": Decimal("3"), "open": True}]
    theirs = [{"id": 1, "postingDate": dt.date(2024, 1, 2), "quantity": 3.0, "open": True}]
    fields = {"postingDate": Tolerance(), "quantity": Tolerance(), "open": Tolerance()}
    assert not compare(ours, theirs, key="id", fields=fields).found
    assert compare(ours, [{**theirs[0], "open": 1}], key="id", fields=fields).changed_by_field == {"open": 1}


def test_samples_are_bounded_and_counts_exact() -> None:
    found = compare([entry(n) for n in range(1, 101)], [], key="entryNumber", fields=FIELDS, samples=3)
    assert found.missing.count == 100 and found.missing.samples == [1, 2, 3]


@pytest.mark.parametrize(
    ("ours", "theirs", "problem"),
    [
        ([entry(2), entry(1)], [], "not in ascending key order: 1 came after 2"),
        ([], [entry(3), entry(1)], "warehouse rows are not in ascending key order"),
        ([{"quantity": 1}], [], "has no key 'entryNumber'"),
        ([entry(1)], [{**entry(1), "entryNumber": "1"}], "cannot be ordered together"),
    ],
)
def test_rows_that_cannot_be_merged_are_refused_naming_the_key(ours: Any, theirs: Any, problem: str) -> None:
    with pytest.raises(ReconciliationError, match=problem) as caught:
        compare(ours, theirs, key="entryNumber", fields=FIELDS)
    assert caught.value.field == "entryNumber" and not caught.value.transient


def test_memory_is_one_row_a_side_whatever_the_length() -> None:
    def rows(count: int) -> Any:
        return (entry(n) for n in range(count))

    found = compare(rows(200_000), rows(200_000), key="entryNumber", fields=FIELDS, samples=5)
    assert found.rows_business_central == 200_000 and not found.found
