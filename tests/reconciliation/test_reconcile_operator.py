"""The reconciliation operator against the emulator and a real warehouse (SQLite, PostgreSQL): one
difference of each kind found exactly and nothing else, on both strategies; hostile names and values
never reach the SQL as text; bad arguments fail before any request; a warehouse that is down is
waited for, then named in a clear error."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, BaseHook

from airflow_provider_bc.operators.reconcile import BusinessCentralReconcileOperator
from airflow_provider_bc.reconciliation import business_central as bc_side
from airflow_provider_bc.reconciliation import counts as counts_strategy
from airflow_provider_bc.reconciliation import warehouse as warehouse_module
from airflow_provider_bc.reconciliation.errors import WarehouseError, WarehouseUnavailableError
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.reconciliation.ledger_warehouse import COLUMNS, FIELDS, business_central_rows, create_table, load
from tests.reconciliation.postgres_server import PostgresServer

TABLE = "item_ledger"
TOLERANCES = {"quantity": None, "costAmountActual": {"absolute": "0.01"}}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    """An emulator of this module's own: it deletes and posts entries."""
    with EmulatorHandle.start(entries=4000) as handle:
        yield handle


def _rows(emulator: EmulatorHandle, filter: str) -> list[dict[str, Any]]:
    return business_central_rows(emulator, filter, FIELDS)


class Ledger:
    """Business Central's side after the changes: a window, the rows the warehouse was loaded with,
    an entry deleted since, and a gap of numbers Business Central never used."""

    def __init__(self, emulator: EmulatorHandle) -> None:
        newest = _rows(emulator, "entryNumber ge 3900")[-1]["postingDate"]
        self.end = dt.date.fromisoformat(newest) + dt.timedelta(days=1)
        self.start = self.end - dt.timedelta(days=12)
        self.gap = emulator.skip_entry_numbers(4)
        for quantity in (3, 4, 5):
            emulator.insert_entry(postingDate=self.start.isoformat(), itemNumber="1100", quantity=quantity)
        window = f"postingDate ge {self.start} and postingDate lt {self.end}"
        self.loaded = _rows(emulator, window)
        self.outside = _rows(
            emulator, f"postingDate ge {self.start - dt.timedelta(days=3)} and postingDate lt {self.start}"
        )
        self.deleted = self.loaded[len(self.loaded) // 2]
        emulator.delete_entry(None, self.deleted["id"])
        self.current = [row for row in self.loaded if row["id"] != self.deleted["id"]]


@pytest.fixture(scope="module")
def ledger(emulator: EmulatorHandle) -> Ledger:
    return Ledger(emulator)


class Seeded:
    """The warehouse's differences from Business Central, one of each kind."""

    def __init__(self, ledger: Ledger) -> None:
        rows = [dict(row) for row in ledger.loaded]
        candidates = [r for r in rows if r["entryNumber"] != ledger.deleted["entryNumber"]]
        # far apart: in one key range of the counts strategy, a missing and a doubled key would cancel out
        self.missing, self.duplicate, self.changed = candidates[1], candidates[-3], candidates[9]
        self.within = candidates[12:15]
        rows.remove(self.missing)
        rows.append(dict(self.duplicate))
        self.changed["quantity"] += 1
        for row in self.within:  # each within the 0.01 tolerance, their day's total beyond it
            row["costAmountActual"] += Decimal("0.004")
        self.rows = rows + ledger.outside


def expected_totals(ledger: Ledger, seeded: Seeded) -> int:
    """(day, field) totals that differ beyond their tolerance, summed here from both sides' rows."""
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    window = [r for r in seeded.rows if ledger.start.isoformat() <= r["postingDate"] < ledger.end.isoformat()]
    for side, rows in ((0, ledger.current), (1, window)):
        for row in rows:
            for name in TOLERANCES:
                sums[row["postingDate"], name][side] += Decimal(str(row[name]))
    limit = {"quantity": Decimal(0), "costAmountActual": Decimal("0.01")}
    return sum(1 for (_, name), (a, b) in sums.items() if abs(a - b) > limit[name])


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse(
    request: pytest.FixtureRequest, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Any:
    """The ``warehouse`` connection (SQLite file or a fresh PostgreSQL database) and its hook."""
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
    if request.param == "sqlite":
        uri = json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")})
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", uri)
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        monkeypatch.setenv(*server.airflow_conn_env("warehouse", dbname=request.getfixturevalue("postgres_database")))
    emulator.reset()
    return BaseHook.get_connection("warehouse").get_hook()


def _operator(ledger: Ledger, tmp_path: Path, **arguments: Any) -> BusinessCentralReconcileOperator:
    given: dict[str, Any] = {
        "task_id": "reconcile",
        "warehouse_conn_id": "warehouse",
        "table": TABLE,
        "columns": COLUMNS,
        "fields": TOLERANCES,
        "totals_by": ["postingDate"],
        "freshness": "lastModifiedDateTime",
        "window_start": ledger.start.isoformat(),
        "window_end": ledger.end.isoformat(),
        "report_destination": tmp_path.as_uri(),
        "fail_on": {"missing": 5, "extra": 5, "duplicate": 5, "changed": 5, "totals": 50},
        **arguments,
    }
    return BusinessCentralReconcileOperator(**given)


def _context() -> dict[str, Any]:
    return {"run_id": "manual__2026-12-07T00:00:00+00:00"}


def test_one_difference_of_each_kind_is_found_exactly(
    warehouse: Any, ledger: Ledger, emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bc_side, "RANGE_WIDTH", 37)  # many key ranges, read 5 ahead, handed on in order
    seeded = Seeded(ledger)
    create_table(warehouse, TABLE)
    load(warehouse, TABLE, seeded.rows)
    summary = _operator(ledger, tmp_path).execute(_context())
    report = json.loads(Path(summary["report"].removeprefix("file://")).read_text())

    assert report["counts"] == {
        "missing": 1,
        "extra": 1,
        "duplicate_business_central": 0,
        "duplicate_warehouse": 1,
        "changed": 1,
        "totals": expected_totals(ledger, seeded),
    }
    assert report["counts"]["totals"] >= 1  # the three changes within tolerance add up beyond it
    assert report["samples"]["missing"] == [seeded.missing["entryNumber"]]
    assert report["samples"]["extra"] == [ledger.deleted["entryNumber"]]
    assert report["samples"]["duplicate_warehouse"] == [seeded.duplicate["entryNumber"]]
    (changed,) = report["samples"]["changed"]
    assert changed["key"] == seeded.changed["entryNumber"]
    assert [(f["field"], Decimal(f["difference"])) for f in changed["fields"]] == [("quantity", Decimal(1))]
    assert report["changed_by_field"] == {"quantity": 1}
    numbers = [row["entryNumber"] for row in ledger.current]
    assert report["gaps"] == numbers[-1] - numbers[0] + 1 - len(numbers)  # the skipped numbers among them
    assert not set(ledger.gap) & set(report["samples"]["missing"])
    assert report["rows"] == {"business_central": len(ledger.current), "warehouse": len(ledger.loaded) + 1 - 1}
    newest = max(r["lastModifiedDateTime"] for r in ledger.current)
    assert report["freshness"]["business_central"].startswith(newest.rstrip("Z")[:19])
    assert summary["passed"] is True and summary["counts"] == report["counts"]
    html = Path(summary["html"].removeprefix("file://")).read_text()
    assert "itemLedgerEntries" in html and str(seeded.missing["entryNumber"]) in html
    requests = emulator.stats()["requests"]
    pages = sum(n for route, statuses in requests.items() if "itemLedgerEntries" in route for n in statuses.values())
    assert pages == report["requests"]["business_central"]


def test_the_counts_strategy_finds_the_keys_in_few_requests(
    warehouse: Any, ledger: Ledger, emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts_strategy, "LEAF_WIDTH", 20)
    monkeypatch.setattr(counts_strategy, "FANOUT", 4)
    seeded = Seeded(ledger)
    create_table(warehouse, TABLE)
    load(warehouse, TABLE, seeded.rows)
    summary = _operator(ledger, tmp_path, fields=None, totals_by=None, freshness=None).execute(_context())
    report = json.loads(Path(summary["report"].removeprefix("file://")).read_text())
    assert report["strategy"] == "counts"
    assert report["samples"]["missing"] == [seeded.missing["entryNumber"]]
    assert report["samples"]["extra"] == [ledger.deleted["entryNumber"]]
    assert report["samples"]["duplicate_warehouse"] == [seeded.duplicate["entryNumber"]]
    assert report["counts"]["changed"] == 0 and report["not_checked"]
    assert report["rows"] == {"business_central": len(ledger.current), "warehouse": len(ledger.loaded) + 1 - 1}
    assert report["requests"]["business_central"] < len(ledger.current) / 4  # counts, then a few small reads


def test_failing_thresholds_fail_the_task_with_one_line(
    warehouse: Any, ledger: Ledger, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    create_table(warehouse, TABLE)
    load(warehouse, TABLE, Seeded(ledger).rows)
    with caplog.at_level(logging.ERROR), pytest.raises(AirflowFailException, match=r"missing: 1 > 0") as failed:
        _operator(ledger, tmp_path, fail_on={"missing": 0}).execute(_context())
    assert "extra" not in str(failed.value).split("):")[0]  # only the thresholds exceeded are named
    logged = caplog.text + "".join(capfd.readouterr())  # Airflow 3 logs tasks through structlog
    # the formatted line (a handler an earlier test closed may also print the bare template to stderr)
    lines = [line for line in logged.splitlines() if "Reconciliation failed (missing: 1 > 0): " in line]
    assert lines and all("missing 1" in line and "extra 1" in line for line in lines)
    assert (tmp_path / _context()["run_id"] / "report.html").exists()  # the report is written before failing


def test_hostile_names_are_identifiers_and_hostile_values_never_reach_sql(
    warehouse: Any, ledger: Ledger, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    hostile = 'ledger"; DROP TABLE victim; --%s?'
    create_table(warehouse, hostile)
    create_table(warehouse, "victim")
    load(warehouse, hostile, ledger.current)
    summary = _operator(ledger, tmp_path, table=hostile, fail_on={}).execute(_context())
    assert summary["counts"]["missing"] == 0 and summary["rows"]["warehouse"] == len(ledger.current)
    assert warehouse.get_first("SELECT COUNT(*) FROM victim")[0] == 0  # still there
    with pytest.raises(AirflowFailException, match=r"reading .*failed"):
        _operator(ledger, tmp_path, table='victim"; DROP TABLE victim; --').execute(_context())
    with pytest.raises(AirflowFailException, match=r"reading .*failed"):
        _operator(ledger, tmp_path, columns={**COLUMNS, "quantity": 'qty" FROM victim; --'}).execute(_context())
    assert warehouse.get_first("SELECT COUNT(*) FROM victim")[0] == 0


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"window_start": "2022-06-02' OR '1'='1"}, "window_start"),
        ({"window_end": "2000-01-01"}, "window_end"),
        ({"strategy": "fast"}, "strategy"),
        ({"fields": {"quantity": -1}}, "fields.quantity.absolute"),
        ({"fields": {"quantity": {"within": 1}}}, "fields.quantity"),
        ({"fields": ["quantity; DROP"]}, "fields"),
        ({"key": "entry number"}, "key"),
        ({"key": "id", "strategy": "counts"}, "strategy"),
        ({"samples": -1}, "samples"),
        ({"max_streams": 6}, "max_streams"),
        ({"totals_by": ["posting date"]}, "totals_by"),
        ({"entity_set": "item ledger"}, "entity_set"),
        ({"table": None}, "table"),
    ],
)
def test_bad_arguments_fail_before_any_request_naming_the_argument(
    arguments: dict[str, Any],
    argument: str,
    emulator: EmulatorHandle,
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "w.db")}))
    emulator.reset()
    with pytest.raises(AirflowFailException, match=rf"\b{argument}\b"):
        _operator(ledger, tmp_path, **arguments).execute(_context())
    assert emulator.stats()["requests"] == {}
    assert not (tmp_path / "w.db").exists() or sqlite3.connect(tmp_path / "w.db").execute(
        "SELECT COUNT(*) FROM sqlite_master"
    ).fetchone() == (0,)


def test_fail_on_is_checked_when_the_dag_is_parsed(ledger: Ledger, tmp_path: Path) -> None:
    from airflow_provider_bc.reconciliation.errors import ReconciliationError

    with pytest.raises(ReconciliationError, match="fail_on: 'lost'"):
        _operator(ledger, tmp_path, fail_on={"lost": 0})


def test_a_warehouse_down_is_waited_for(
    ledger: Ledger,
    emulator: EmulatorHandle,
    postgres_server: PostgresServer,
    postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
    monkeypatch.setenv(*postgres_server.airflow_conn_env("warehouse", dbname=postgres_database))
    hook = BaseHook.get_connection("warehouse").get_hook()
    create_table(hook, TABLE)
    load(hook, TABLE, ledger.current)
    postgres_server.kill()
    waits: list[float] = []

    def back_up(seconds: float) -> None:  # the first wait: the database comes back
        waits.append(seconds)
        postgres_server.start()

    monkeypatch.setattr(warehouse_module, "sleep", back_up)
    with caplog.at_level(logging.WARNING):
        summary = _operator(ledger, tmp_path, fail_on={}).execute(_context())
    assert summary["rows"]["warehouse"] == len(ledger.current) and waits == [warehouse_module.CONNECT_WAITS[0]]
    assert any("connecting failed" in r.getMessage() and "attempt 1" in r.getMessage() for r in caplog.records)


def test_a_warehouse_that_stays_down_is_a_clear_error_a_retry_may_cure(
    ledger: Ledger,
    emulator: EmulatorHandle,
    postgres_server: PostgresServer,
    postgres_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
    monkeypatch.setenv(*postgres_server.airflow_conn_env("warehouse", dbname=postgres_database))
    postgres_server.kill()
    waits: list[float] = []
    monkeypatch.setattr(warehouse_module, "sleep", waits.append)
    with pytest.raises(
        WarehouseUnavailableError, match=r"warehouse connection 'warehouse': could not connect after 4 attempts"
    ) as down:
        _operator(ledger, tmp_path).execute(_context())
    assert down.value.transient and isinstance(down.value, WarehouseError)
    assert waits == list(warehouse_module.CONNECT_WAITS)
    assert "check that the database is up" in str(down.value)
