"""The example DAGs, run for real with dag.test() against the emulator."""

from __future__ import annotations

import csv
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pendulum
import requests

from airflow_provider_bc.testing.airflow_runs import dag_test, load_dag, task_states, xcom_value
from tests.support import DOCUMENTED_FIELDS, EXAMPLE_DAGS, audit_trail, task_history

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"
RECONCILED_DAY = "2022-06-10"


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


def _day_totals(emulator: Any, day: str) -> dict[str, list[Decimal]]:
    """Totals per item for ``day``, recomputed here from a plain unfiltered read."""
    token = emulator.token()
    url: str | None = f"{emulator.api_url()}/companies({emulator.default_company_id})/itemLedgerEntries"
    params: dict[str, str] | None = {"$select": "postingDate,itemNumber,quantity,costAmountActual"}
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    with requests.Session() as session:
        while url:
            page = json.loads(
                session.get(
                    url, params=params, headers={"Authorization": f"Bearer {token}"}, verify=emulator.ca_bundle
                ).content
            )
            for entry in page["value"]:
                if entry["postingDate"] == day:
                    totals[entry["itemNumber"]][0] += Decimal(str(entry["quantity"]))
                    totals[entry["itemNumber"]][1] += Decimal(str(entry["costAmountActual"]))
            url, params = page.get("@odata.nextLink"), None
    return totals


def _write_ledger(path: Path, day: str, totals: dict[str, list[Decimal]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["posting_date", "item_number", "quantity", "cost_amount_actual"])
        writer.writerow(["2022-06-09", "1100", "999", "999"])  # another day: must be ignored
        for item, (quantity, cost) in sorted(totals.items()):
            writer.writerow([day, item, quantity, cost])


def _reconcile(tmp_path: Path, ledger: Path) -> tuple[Any, dict[str, Any]]:
    reports = tmp_path / "reports"
    run = dag_test(
        load_dag(EXAMPLE_DAGS / "bc_reconcile_item_ledger.py"),
        logical_date=pendulum.datetime(*map(int, RECONCILED_DAY.split("-")), tz="UTC").add(days=1),
        run_conf={"expected_ledger": str(ledger), "report_dir": f"file://{reports}"},
    )
    report = json.loads((reports / f"item-ledger-{RECONCILED_DAY}.json").read_text())
    return run, report


def test_reconciliation_reports_exactly_the_planted_differences(
    tmp_path: Path, airflow_db: None, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    actual = _day_totals(bc_emulator, RECONCILED_DAY)
    items = sorted(item for item, (quantity, cost) in actual.items() if quantity and cost)
    assert len(items) >= 4, "the seeded day should have several items"
    expected = {item: list(values) for item, values in actual.items()}
    expected[items[0]][0] += 1  # one unit more expected
    expected[items[1]][1] -= Decimal("100.00")  # a cost 100 lower
    expected[items[2]][1] += Decimal("0.01")  # a rounding cent: within tolerance
    del expected[items[3]]  # posted in BC, absent from the expected ledger
    expected["GHOST-1"] = [Decimal(5), Decimal("12.50")]  # expected, never posted
    planted = {
        (items[0], "quantity", True),
        (items[1], "costAmountActual", True),
        (items[2], "costAmountActual", False),
        (items[3], "quantity", True),
        (items[3], "costAmountActual", True),
        ("GHOST-1", "quantity", True),
        ("GHOST-1", "costAmountActual", True),
    }
    ledger = tmp_path / "expected.csv"
    _write_ledger(ledger, RECONCILED_DAY, expected)

    run, report = _reconcile(tmp_path, ledger)

    assert str(run.state) == "failed"
    assert task_states(run)["reconcile"] == "failed"
    found = {(d["item"], d["measure"], d["beyond_tolerance"]) for d in report["differences"]}
    assert found == planted
    assert report["items"] == len(actual)


def test_reconciliation_of_a_matching_ledger_succeeds(
    tmp_path: Path, airflow_db: None, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    ledger = tmp_path / "expected.csv"
    _write_ledger(ledger, RECONCILED_DAY, _day_totals(bc_emulator, RECONCILED_DAY))
    run, report = _reconcile(tmp_path, ledger)
    assert str(run.state) == "success", task_states(run)
    assert report["differences"] == []
