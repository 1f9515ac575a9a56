"""The example DAGs, run for real with dag.test() against the emulator (the reconciliation also against
a SQLite warehouse)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pendulum
import pytest

from airflow_provider_bc.testing.airflow_runs import dag_test, load_dag, task_states, xcom_value
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.reconciliation.ledger_warehouse import business_central_rows
from tests.secret_scan import SecretScanner
from tests.support import DOCUMENTED_FIELDS, EXAMPLE_DAGS, audit_trail, task_history

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"
LEDGER_ENTRIES = 4000  # the reconciled emulator's: its last day of postings has 10 entries
#: the warehouse columns of bc_reconcile_item_ledger's table, by Business Central field
COLUMNS = {
    "entryNumber": "entry_no",
    "itemNumber": "item_no",
    "postingDate": "posting_date",
    "quantity": "quantity",
    "costAmountActual": "cost_amount_actual",
    "lastModifiedDateTime": "last_modified_at",
}
NUMBERS = ("quantity", "costAmountActual")
TOLERANCE = {"quantity": Decimal(0), "costAmountActual": Decimal("0.01")}


def test_fetch_dag_hands_the_documented_entry_through_xcom(
    airflow_db: None, bc_connection: Callable[..., dict[str, Any]], documented_entry: dict[str, Any]
) -> None:
    bc_connection()
    run = load_dag(EXAMPLE_DAGS / "bc_fetch_item_ledger_entry.py").test()
    assert str(run.state) == "success", task_states(run)
    assert xcom_value(run, "choose_entry") == DOCUMENTED_ID  # get_entry's entry_id came from this XCom
    fetched = xcom_value(run, "get_entry")
    assert {f: fetched[f] for f in DOCUMENTED_FIELDS} == {f: documented_entry[f] for f in DOCUMENTED_FIELDS}
    assert "Positive Adjmt. of 200 x item 1100 on 2022-06-01" in xcom_value(run, "describe_entry")


def test_fetch_dag_with_another_entry_id_from_the_run_conf(
    airflow_db: None, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    other = bc_emulator.insert_entry(documentNumber=f"CONF-{uuid.uuid4().hex[:8]}")
    run = load_dag(EXAMPLE_DAGS / "bc_fetch_item_ledger_entry.py").test(run_conf={"entry_id": other["id"]})
    assert str(run.state) == "success", task_states(run)
    assert xcom_value(run, "get_entry")["documentNumber"] == other["documentNumber"]


def _checks_for(emulator: Any, document: str) -> int:
    """How many item ledger entry queries the emulator answered that looked for ``document``."""
    return sum(
        1
        for r in emulator.recent_requests()
        if r["route"] == "itemLedgerEntries" and r["status"] == 200 and document in unquote(r["path"])
    )


def test_wait_dag_defers_until_the_entry_is_posted(
    airflow_db: None, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    document = f"WAIT-{uuid.uuid4().hex[:8].upper()}"
    seen_before_posting: list[int] = []
    stop = threading.Event()

    def post_after_two_checks() -> None:
        """Post the entry once the sensor has looked for it twice (its own check, then the trigger's)."""
        while not stop.wait(0.1):
            if (checks := _checks_for(bc_emulator, document)) >= 2:
                seen_before_posting.append(checks)
                bc_emulator.insert_entry(documentNumber=document, quantity=7, entryType="Positive_x0020_Adjmt_x002E_")
                return

    poster = threading.Thread(target=post_after_two_checks, daemon=True)
    poster.start()
    try:
        run = load_dag(EXAMPLE_DAGS / "bc_wait_for_posting.py").test(run_conf={"document_number": document})
    finally:
        stop.set()
        poster.join()
    assert str(run.state) == "success", task_states(run)
    # it looked, did not find it, was still waiting when it was posted, and found it by looking again
    assert seen_before_posting and seen_before_posting[0] >= 2
    assert _checks_for(bc_emulator, document) > seen_before_posting[0]
    assert task_history(run, "wait_for_entry")["events"] == audit_trail("running", "deferred", "running", "success")
    found = xcom_value(run, "wait_for_entry")
    assert [entry["documentNumber"] for entry in found] == [document]
    fetched = xcom_value(run, "fetch_entry")
    assert fetched["id"] == found[0]["id"] and fetched["quantity"] == 7
    assert fetched["entryType"] == "Positive Adjmt."  # decode_enum_values=True
    assert f"Document {document} posted" in xcom_value(run, "announce")


class ReconciledDay:
    """The emulator's last day of postings, as the example DAG reconciles it: the run of the next
    midnight covers it; its entries are the newest, so numbers skipped after them are gaps of the day."""

    def __init__(self, emulator: EmulatorHandle, tmp_path: Path) -> None:
        self.emulator = emulator
        self.day = _bc_rows(emulator, f"entryNumber ge {LEDGER_ENTRIES - 50}")[-1]["postingDate"]
        self.warehouse = tmp_path / "warehouse.db"
        self.lake, self.reports = tmp_path / "lake", tmp_path / "reports"

    def rows(self) -> list[dict[str, Any]]:
        """Business Central's entries of the day, in entry-number order, decimals exact."""
        return _bc_rows(self.emulator, f"postingDate eq {self.day}")

    def run(self, *, reload: bool) -> tuple[Any, dict[str, Any]]:
        """The DAG run of the day (``reload`` param), and the report it wrote."""
        run = dag_test(
            load_dag(EXAMPLE_DAGS / "bc_reconcile_item_ledger.py"),
            logical_date=pendulum.parse(self.day).add(days=1),
            run_conf={"lake": self.lake.as_uri(), "report_destination": self.reports.as_uri(), "reload": reload},
        )
        report = json.loads((self.reports / run.run_id / "report.json").read_text())
        return run, report

    def sql(self, statement: str, *parameters: Any) -> list[tuple[Any, ...]]:
        """``statement`` on the warehouse (SQLite), committed; its rows."""
        with contextlib.closing(sqlite3.connect(self.warehouse)) as connection, connection:
            return connection.execute(statement, parameters).fetchall()

    def warehouse_rows(self) -> list[dict[str, Any]]:
        """The warehouse's rows of the day under Business Central's names, numbers exact."""
        columns = ", ".join(f"CAST({c} AS TEXT)" if f in NUMBERS else c for f, c in COLUMNS.items())
        found = self.sql(f"SELECT {columns} FROM item_ledger_entries WHERE posting_date = ?", self.day)
        return [{f: Decimal(v) if f in NUMBERS else v for f, v in zip(COLUMNS, row, strict=True)} for row in found]


@pytest.fixture(scope="module")
def ledger_emulator(secret_scanner: SecretScanner) -> Iterator[EmulatorHandle]:
    """An emulator of this module's own: the reconciliation deletes and posts entries."""
    with EmulatorHandle.start(entries=LEDGER_ENTRIES) as emulator:
        secret_scanner.add_secret("client secret", emulator.client_secret)
        yield emulator
        for token in emulator.issued_tokens():
            secret_scanner.add_secret("access token issued by the emulator", token)


@pytest.fixture
def reconciled_day(ledger_emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReconciledDay:
    day = ReconciledDay(ledger_emulator, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", ledger_emulator.airflow_connection_env())
    # a SQLite file: the path is the URI's host, its slashes quoted (sqlite://%2Fabs%2Fpath.db)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", f"sqlite://{quote(str(day.warehouse), safe='')}")
    return day


def _bc_rows(emulator: EmulatorHandle, filter: str) -> list[dict[str, Any]]:
    return business_central_rows(emulator, filter, COLUMNS)


def _totals_beyond_tolerance(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> int:
    """(day, item, field) totals of both sides that differ beyond the field's tolerance, summed here."""
    sums: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for side, rows in enumerate((ours, theirs)):
        for row in rows:
            for field in NUMBERS:
                sums[row["postingDate"], row["itemNumber"], field][side] += Decimal(str(row[field]))
    return sum(1 for (_, _, field), (a, b) in sums.items() if abs(a - b) > TOLERANCE[field])


def test_reconcile_dag_passes_a_clean_load_then_fails_on_one_difference_of_each_kind(
    airflow_db: None, reconciled_day: ReconciledDay
) -> None:
    day, emulator = reconciled_day, reconciled_day.emulator
    loaded = day.rows()
    assert len(loaded) >= 8, "the reconciled day should have several entries"

    # extract, load into the warehouse, reconcile: nothing differs
    run, report = day.run(reload=True)
    assert str(run.state) == "success", task_states(run)
    assert xcom_value(run, "load")["rows"] == len(loaded)
    assert report["window"]["start"] == day.day and report["strategy"] == "full"
    assert report["rows"] == {"business_central": len(loaded), "warehouse": len(loaded)}
    assert set(report["counts"].values()) == {0} and report["gaps"] == 0 and report["failed"] == []
    summary = xcom_value(run, "reconcile")
    assert summary["passed"] is True and summary["counts"] == report["counts"]
    assert (day.reports / run.run_id / "report.html").exists()

    # one difference of each kind, in Business Central and in the warehouse
    extra = loaded[1]
    emulator.delete_entry(None, extra["id"])  # deleted in Business Central since the load
    skipped = emulator.skip_entry_numbers(3)  # a posting rolled back: numbers never used
    posted = emulator.insert_entry(postingDate=day.day, itemNumber="1100", quantity=2)
    # the warehouse's own pipeline loaded the new posting
    day.sql(
        f"INSERT INTO item_ledger_entries ({', '.join(COLUMNS.values())}) VALUES ({', '.join('?' * len(COLUMNS))})",
        *(str(posted[f]) if f in NUMBERS else posted[f] for f in COLUMNS),
    )
    missing, duplicate, changed, within = loaded[3], loaded[4], loaded[6], loaded[7]
    day.sql("DELETE FROM item_ledger_entries WHERE entry_no = ?", missing["entryNumber"])
    day.sql(
        "INSERT INTO item_ledger_entries SELECT * FROM item_ledger_entries WHERE entry_no = ?",
        duplicate["entryNumber"],
    )
    day.sql("UPDATE item_ledger_entries SET quantity = quantity + 1 WHERE entry_no = ?", changed["entryNumber"])
    day.sql(
        "UPDATE item_ledger_entries SET cost_amount_actual = ? WHERE entry_no = ?",
        str(within["costAmountActual"] + Decimal("0.004")),  # within the 0.01 tolerance
        within["entryNumber"],
    )

    # the warehouse reconciled as it is: the task fails, the report lists exactly those
    run, report = day.run(reload=False)
    assert str(run.state) == "failed"
    assert task_states(run) == {
        "reload_wanted": "success",
        "extract": "skipped",
        "load": "skipped",
        "reconcile": "failed",
    }
    assert xcom_value(run, "reconcile") is None
    current = day.rows()
    assert posted["entryNumber"] in {r["entryNumber"] for r in current} and extra not in current
    totals = _totals_beyond_tolerance(current, day.warehouse_rows())
    assert totals >= 1  # the missing, extra, doubled and changed entries move their item's totals
    assert report["counts"] == {
        "missing": 1,
        "extra": 1,
        "duplicate_business_central": 0,
        "duplicate_warehouse": 1,
        "changed": 1,
        "totals": totals,
    }
    assert report["samples"]["missing"] == [missing["entryNumber"]]
    assert report["samples"]["extra"] == [extra["entryNumber"]]
    assert report["samples"]["duplicate_warehouse"] == [duplicate["entryNumber"]]
    (change,) = report["samples"]["changed"]
    assert change["key"] == changed["entryNumber"]
    assert [(f["field"], Decimal(f["difference"])) for f in change["fields"]] == [("quantity", Decimal(1))]
    assert report["changed_by_field"] == {"quantity": 1}
    # numbers Business Central holds no entry for are gaps, apart from the differences: the skipped ones
    # (the posting after them is no difference) and the deleted entry's (reported as extra)
    assert report["gaps"] == len(skipped) + 1 == 4
    assert posted["entryNumber"] == skipped[-1] + 1
    assert report["rows"] == {"business_central": len(loaded), "warehouse": len(loaded) + 1}
    assert report["failed"] == [
        "missing: 1 > 0",
        "extra: 1 > 0",
        "duplicate: 1 > 0",
        "changed: 1 > 0",
        f"totals: {totals} > 0",
    ]
    assert (day.reports / run.run_id / "report.html").exists()
