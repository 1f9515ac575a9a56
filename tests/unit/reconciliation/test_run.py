"""A reconciliation from start to report (``airflow_provider_bc.reconciliation.run``) against a real SQLite
warehouse and a Business Central side held in memory (the real one reads over HTTP): the report of each
strategy, keys made alike on both sides, and the ``counts`` strategy's ranges
(``airflow_provider_bc.reconciliation.counts``) finding what the full read finds, in fewer reads."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.reconciliation import counts as counts_module
from airflow_provider_bc.reconciliation.counts import count_ranges
from airflow_provider_bc.reconciliation.errors import ReconciliationError
from airflow_provider_bc.reconciliation.report import DEFAULT_FAIL_ON
from airflow_provider_bc.reconciliation.run import COUNTS_NOT_CHECKED, Reconciliation, _union, keyed, whole_number
from airflow_provider_bc.reconciliation.spec import ReconcileSpec, build_spec
from airflow_provider_bc.reconciliation.warehouse import Dialect, Warehouse, WarehouseSource

JANUARY = ("postingDate", "2024-01-01", "2024-02-01")
GUID = "6f1c2b3a-4d5e-4f60-8172-8394a5b6c7d{}"


class MemorySide:
    """Business Central's rows of the window, as :class:`BusinessCentralSide` hands them to the run."""

    def __init__(self, spec: ReconcileSpec, rows: list[dict[str, Any]]) -> None:
        self.spec, self._rows, self.requests = spec, rows, 0
        self.read: list[tuple[int, int]] = []
        self.counted: list[list[tuple[int, int]]] = []

    def _in(self, low: int, high: int) -> list[dict[str, Any]]:
        return sorted((r for r in self._rows if low <= r[self.spec.key] < high), key=lambda r: r[self.spec.key])

    def span(self) -> tuple[int, int] | None:
        self.requests += 2
        keys = [row[self.spec.key] for row in self._rows]
        return (min(keys), max(keys)) if keys else None

    def rows_in_key_order(self, span: tuple[int, int] | None) -> Iterator[dict[str, Any]]:
        if span is not None:
            self.requests += 1
            yield from self._in(span[0], span[1] + 1)

    def rows(self) -> Iterator[dict[str, Any]]:
        self.requests += 1
        yield from self._rows

    def counts(self, ranges: list[tuple[int, int]]) -> list[int]:
        self.requests += 1
        self.counted.append(list(ranges))
        return [len(self._in(low, high)) for low, high in ranges]

    def rows_of_ranges(
        self, ranges: list[tuple[int, int]], fields: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        for low, high in ranges:
            self.requests += 1
            self.read.append((low, high))
            yield from ({name: row[name] for name in fields or self.spec.columns()} for row in self._in(low, high))


def entry(
    number: int, day: str = "2024-01-02", quantity: int = 1, amount: str = "10.00", **more: Any
) -> dict[str, Any]:
    return {
        "entryNumber": number,
        "postingDate": day,
        "quantity": quantity,
        "amount": Decimal(amount),
        "lastModifiedDateTime": f"{day}T08:00:00Z",
        **more,
    }


def sqlite_warehouse(path: Path, rows: list[dict[str, Any]], key_type: str = "INTEGER") -> Warehouse:
    """A ``ledger`` table of ``rows`` (amounts NUMERIC: SQLite gives back whole ones as ``int``, others ``float``)."""
    with sqlite3.connect(path) as connection:
        columns = f'entry_no {key_type}, "postingDate" TEXT, quantity INTEGER, amount NUMERIC, modified TEXT'
        connection.execute(f"CREATE TABLE ledger ({columns})")
        connection.executemany(
            "INSERT INTO ledger VALUES (?, ?, ?, ?, ?)",
            [
                (r["entryNumber"], r["postingDate"], r["quantity"], str(r["amount"]), r["lastModifiedDateTime"])
                for r in rows
            ],
        )
    connection.close()
    source = WarehouseSource(table="ledger", columns={"entryNumber": "entry_no", "lastModifiedDateTime": "modified"})
    return Warehouse(source, Dialect(placeholder="?"), lambda: sqlite3.connect(path), waits=())


def spec(**arguments: Any) -> ReconcileSpec:
    return build_spec(**{"entity_set": "itemLedgerEntries", "company_id": "c1", "window": JANUARY, **arguments})


def run(made: ReconcileSpec, ours: list[dict[str, Any]], warehouse: Warehouse, **fail_on: int) -> dict[str, Any]:
    side = MemorySide(made, ours)
    report = Reconciliation(made, side, warehouse).run(  # type: ignore[arg-type]
        fail_on or dict(DEFAULT_FAIL_ON), description={"warehouse": {"connection": "dw", "source": "ledger"}}
    )
    assert json.loads(json.dumps(report)) == report
    return report


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[list[dict[str, Any]], Warehouse]:
    """Business Central 1..10 but 4 (a gap); the warehouse misses 2 and 7, holds 11 extra and 5 twice, 8's
    amount beyond its tolerance and 9's within, 6 on another day, plus a row outside the window."""
    ours = [entry(n, day="2024-01-03" if n > 5 else "2024-01-02") for n in (1, 2, 3, 5, 6, 7, 8, 9, 10)]
    theirs = [dict(row) for row in ours if row["entryNumber"] not in (2, 7)]
    by_number = {row["entryNumber"]: row for row in theirs}
    by_number[8]["amount"] = Decimal("10.50")
    by_number[9]["amount"] = Decimal("10.01")
    by_number[6]["postingDate"] = "2024-01-04"
    by_number[10]["lastModifiedDateTime"] = "2024-01-03T09:30:00+01:00"  # 08:30Z: the warehouse's newest
    theirs += [entry(11, day="2024-01-05"), entry(5, day="2024-01-02"), entry(12, day="2024-02-01")]
    return ours, sqlite_warehouse(tmp_path / "w.db", theirs)


def test_the_full_strategy_reports_each_difference(seeded: tuple[list[dict[str, Any]], Warehouse]) -> None:
    ours, warehouse = seeded
    made = spec(
        fields={"amount": 0.01, "postingDate": None},
        totals_by=["postingDate"],
        freshness="lastModifiedDateTime",
    )
    report = run(made, ours, warehouse, missing=2, extra=0, changed=5, totals=2)
    assert report["strategy"] == "full" and report["version"] == 1
    assert report["counts"] == {
        "missing": 2,
        "extra": 1,
        "duplicate_business_central": 0,
        "duplicate_warehouse": 1,
        "changed": 2,
        "totals": 3,  # amount on 2024-01-03, -04 and -05 (duplicates are summed too)
    }
    assert report["samples"]["missing"] == [2, 7] and report["samples"]["extra"] == [11]
    assert report["samples"]["duplicate_warehouse"] == [5]
    assert [change["key"] for change in report["samples"]["changed"]] == [6, 8]
    assert report["samples"]["changed"][1]["fields"] == [
        {"field": "amount", "business_central": "10.00", "warehouse": "10.5", "difference": "0.50"}
    ]
    assert report["changed_by_field"] == {"postingDate": 1, "amount": 1}
    assert report["rows"] == {"business_central": 9, "warehouse": 9}  # 12 is outside the window
    assert report["gaps"] == 1
    assert report["freshness"] == {
        "business_central": "2024-01-03T08:00:00.000000Z",
        "warehouse": "2024-01-05T08:00:00.000000Z",
    }
    totals = report["totals"]
    assert totals["by"] == ["postingDate"] and totals["groups"] == 4 and totals["beyond_tolerance"] == 3
    assert [(t["group"]["postingDate"], t["difference"]) for t in totals["samples"]] == [
        ("2024-01-03", "-19.49"),
        ("2024-01-04", "10"),
        ("2024-01-05", "10"),
    ]
    assert report["failed"] == ["extra: 1 > 0", "totals: 3 > 2"]
    assert report["fail_on"] == {"missing": 2, "extra": 0, "changed": 5, "totals": 2}
    assert report["not_checked"] == []
    assert report["window"] == {"field": "postingDate", "start": "2024-01-01", "end": "2024-02-01"}
    assert (report["entity_set"], report["company_id"], report["key"], report["filter"]) == (
        "itemLedgerEntries",
        "c1",
        "entryNumber",
        None,
    )
    assert report["warehouse"] == {"connection": "dw", "source": "ledger"}
    assert report["requests"] == {"business_central": 3, "warehouse": 1}
    assert report["started"] <= report["finished"] and report["seconds"] >= 0


def test_matching_sides_pass_with_nothing_found(tmp_path: Path) -> None:
    ours = [entry(n) for n in range(1, 30, 3)]
    report = run(spec(fields=["quantity", "amount"]), ours, sqlite_warehouse(tmp_path / "w.db", ours))
    assert set(report["counts"].values()) == {0} and report["failed"] == []
    assert report["rows"] == {"business_central": 10, "warehouse": 10} and report["gaps"] == 18
    assert report["totals"] is None and report["freshness"] is None


def test_the_counts_strategy_finds_the_keys_that_differ_in_few_reads(tmp_path: Path) -> None:
    ours = [entry(n) for n in range(1, 11)]
    theirs = [row for row in ours if row["entryNumber"] not in (2, 7)] + [entry(11), entry(30, day="2024-03-01")]
    made = spec()
    assert made.chosen == "counts"
    side = MemorySide(made, ours)
    warehouse = sqlite_warehouse(tmp_path / "w.db", theirs)
    report = Reconciliation(made, side, warehouse).run(dict(DEFAULT_FAIL_ON), description={})  # type: ignore[arg-type]
    assert report["strategy"] == "counts"
    assert report["counts"] == {
        "missing": 2,
        "extra": 1,
        "duplicate_business_central": 0,
        "duplicate_warehouse": 0,
        "changed": 0,
        "totals": 0,
    }
    assert report["samples"]["missing"] == [2, 7] and report["samples"]["extra"] == [11]
    assert report["rows"] == {"business_central": 10, "warehouse": 9}  # 30 is outside the window
    assert report["gaps"] is None and report["freshness"] is None and report["totals"] is None
    assert report["not_checked"] == list(COUNTS_NOT_CHECKED)
    assert report["failed"] == ["missing: 2 > 0", "extra: 1 > 0"]
    # both sides' spans (1..10, 1..11) as one range, counted on each side, then its keys read on each side
    assert side.counted == [[(1, 12)]] and side.read == [(1, 12)]
    assert report["requests"] == {"business_central": 4, "warehouse": 3}


def test_counts_that_agree_hide_as_many_missing_as_extra_keys(tmp_path: Path) -> None:
    ours = [entry(n) for n in range(1, 11)]
    theirs = [row for row in ours if row["entryNumber"] != 4] + [entry(5)]  # 4 missing, 5 twice: 10 rows each
    report = run(spec(), ours, sqlite_warehouse(tmp_path / "w.db", theirs))
    assert report["strategy"] == "counts" and report["failed"] == []
    assert COUNTS_NOT_CHECKED[1] in report["not_checked"]
    full = run(spec(strategy="full"), ours, sqlite_warehouse(tmp_path / "f.db", theirs))
    assert full["failed"] == ["missing: 1 > 0", "duplicate: 1 > 0"]


def test_counts_split_only_the_ranges_that_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counts_module, "FIRST_LEVEL", 2)
    monkeypatch.setattr(counts_module, "LEAF_WIDTH", 10)
    monkeypatch.setattr(counts_module, "FANOUT", 2)
    ours = [entry(n) for n in range(1, 101)]
    theirs = [row for row in ours if row["entryNumber"] != 37]
    made = spec()
    side = MemorySide(made, ours)
    counted = count_ranges(side, sqlite_warehouse(tmp_path / "w.db", theirs), (1, 100))  # type: ignore[arg-type]
    assert counted.rows_business_central == 100 and counted.rows_warehouse == 99
    assert side.counted == [[(1, 51), (51, 101)], [(1, 26), (26, 51)], [(26, 38), (38, 51)], [(26, 32), (32, 38)]]
    assert counted.differing == [(32, 38)]
    report = run(made, ours, sqlite_warehouse(tmp_path / "w2.db", theirs), missing=1)
    assert report["counts"]["missing"] == 1 and report["samples"]["missing"] == [37] and report["failed"] == []


def test_a_warehouse_without_rows_misses_them_all_with_either_strategy(tmp_path: Path) -> None:
    ours = [entry(n) for n in (3, 4, 5)]
    for strategy in ("full", "counts"):
        report = run(spec(strategy=strategy), ours, sqlite_warehouse(tmp_path / f"{strategy}.db", []), missing=3)
        assert report["counts"]["missing"] == 3 and report["samples"]["missing"] == [3, 4, 5]
        assert report["rows"] == {"business_central": 3, "warehouse": 0} and report["failed"] == []


def test_empty_sides_agree(tmp_path: Path) -> None:
    for strategy in ("full", "counts"):
        report = run(spec(strategy=strategy), [], sqlite_warehouse(tmp_path / f"{strategy}.db", []))
        assert report["rows"] == {"business_central": 0, "warehouse": 0} and report["failed"] == []


def test_whole_number_keys_held_as_real_numbers_are_merged(tmp_path: Path) -> None:
    ours = [entry(n) for n in (1, 2, 3)]
    report = run(spec(fields=["quantity"]), ours, sqlite_warehouse(tmp_path / "w.db", ours, key_type="REAL"))
    assert report["failed"] == [] and report["rows"] == {"business_central": 3, "warehouse": 3}


def test_a_warehouse_key_that_is_no_whole_number_is_refused_naming_the_key(tmp_path: Path) -> None:
    ours = [entry(1)]
    warehouse = sqlite_warehouse(tmp_path / "w.db", [{**entry(1), "entryNumber": 1.5}], key_type="REAL")
    with pytest.raises(ReconciliationError, match=r"a warehouse row's key 1\.5 is not a whole number") as caught:
        run(spec(), ours, warehouse)
    assert caught.value.field == "entryNumber"


def test_whole_number_keys_held_as_text_are_refused_saying_how_to_fix_it(tmp_path: Path) -> None:
    # the warehouse orders '10' before '9': merged, every key would look missing and extra
    ours = [entry(n) for n in (9, 10)]
    with pytest.raises(ReconciliationError, match="give the key column a number type") as caught:
        run(spec(fields=["quantity"]), ours, sqlite_warehouse(tmp_path / "w.db", ours, key_type="TEXT"))
    assert caught.value.field == "entryNumber" and "9 came after 10" in str(caught.value)


def test_other_keys_are_sorted_here_and_guids_matched_in_any_case(tmp_path: Path) -> None:
    ours = [entry(n, id=GUID.format(n)) for n in (3, 1, 2)]
    theirs = [{**row, "id": row["id"].upper()} for row in ours if row["entryNumber"] != 2]
    theirs.append(entry(9, id="not-a-guid"))
    path = tmp_path / "w.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE items (id TEXT, quantity INTEGER)")
        connection.executemany("INSERT INTO items VALUES (?, ?)", [(r["id"], r["quantity"]) for r in theirs])
    connection.close()
    warehouse = Warehouse(WarehouseSource(table="items"), Dialect(placeholder="?"), lambda: sqlite3.connect(path))
    made = build_spec(entity_set="items", company_id="c1", key="id", fields=["quantity"])
    report = run(made, ours, warehouse, missing=1, extra=0)
    assert report["samples"]["missing"] == [GUID.format(2)] and report["samples"]["extra"] == ["not-a-guid"]
    assert report["counts"]["changed"] == 0 and report["gaps"] is None
    assert report["failed"] == ["extra: 1 > 0"]


@pytest.mark.parametrize(
    ("value", "number"),
    [(7, 7), ("7", 7), (" 12 ", 12), (7.0, 7), (Decimal("7.000"), 7), ("1E3", 1000), (-3, -3)],
)
def test_a_whole_number_key_in_any_form_is_an_int(value: Any, number: int) -> None:
    found = whole_number(value, "warehouse", "entryNumber")
    assert found == number and type(found) is int


@pytest.mark.parametrize(
    "value", [7.5, "7.5", "seven", None, True, "", "NaN", float("inf"), Decimal("Infinity"), "0x10"]
)
def test_a_key_that_is_no_whole_number_is_refused(value: Any) -> None:
    with pytest.raises(ReconciliationError) as caught:
        whole_number(value, "warehouse", "entryNumber")
    assert caught.value.field == "entryNumber" and "a warehouse row's key" in str(caught.value)


@given(st.integers(-(10**18), 10**18))
def test_any_whole_number_survives_its_text_and_decimal(number: int) -> None:
    assert whole_number(str(number), "warehouse", "k") == whole_number(Decimal(number), "warehouse", "k") == number


def test_keyed_makes_keys_alike_and_keeps_rows_already_alike() -> None:
    row = {"entryNumber": 3, "quantity": 1}
    assert next(keyed([row], "entryNumber", True, "warehouse")) is row
    assert list(keyed([{"entryNumber": "4"}], "entryNumber", True, "warehouse")) == [{"entryNumber": 4}]
    upper = GUID.format(1).upper()
    assert list(keyed([{"id": upper}], "id", False, "warehouse")) == [{"id": GUID.format(1)}]
    assert list(keyed([{"number": Decimal("1.50")}], "number", False, "warehouse")) == [{"number": Decimal("1.50")}]
    assert list(keyed([{"number": 2}], "number", False, "warehouse")) == [{"number": Decimal(2)}]
    day = dt.date(2024, 1, 2)
    assert list(keyed([{"number": day}], "number", False, "warehouse")) == [{"number": "2024-01-02"}]


def test_the_union_of_spans_covers_both_sides() -> None:
    assert _union(None, None, "k") is None
    assert _union((3, 9), None, "k") == (3, 9)
    assert _union(None, ("2", Decimal(20)), "k") == (2, 20)
    assert _union((3, 9), (5.0, 12), "k") == (3, 12)
    assert _union((3, 9), (1, 4), "k") == (1, 9)
    with pytest.raises(ReconciliationError):
        _union((3, 9), (1, 4.5), "k")
