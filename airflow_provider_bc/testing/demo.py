"""The README's demo: the example DAGs run with ``dag.test()`` against a fresh emulator.

``python3 dev.py demo`` (or ``python -m airflow_provider_bc.testing.demo``) from a checkout; not in
the wheel, since it runs the checkout's ``dags_examples/``. It starts the emulator, points a
throw-away Airflow home (``.demo/``) at it and runs for real: the fetch DAG; the reconcile DAG on the
emulator's last day of postings, loading a SQLite warehouse (``.demo/warehouse.db``), then again
without reloading after one difference of each kind was made (that run fails, as expected); the
wait DAG; the daily extraction twice (entries posted and modified in between; files in
``.demo/lake``). It prints what they fetched, found and wrote, the reports' paths
(``.demo/reports/<run id>/report.html``), and exits non-zero if a run ended otherwise than expected
(2: the ``[emulator]`` extra is missing).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow_provider_bc.testing.airflow_runs import dag_test, prepare_airflow_home
from airflow_provider_bc.testing.emulator.extra import exit_without_emulator_extra

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags_examples"
WORK = REPO / ".demo"
DEMO_ENTRIES = 20_000
AWAITED_DOCUMENT = "DEMO-0001"
SKIPPED_NUMBERS = 3

#: a DAG run shown: its name, the state it ended in, the state the demo expects
Outcome = tuple[str, str, str]


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def _post_later(emulator: Any, delay: float) -> threading.Thread:
    """Post the awaited entry into the running emulator after ``delay`` seconds."""

    def post() -> None:
        time.sleep(delay)
        entry = emulator.insert_entry(documentNumber=AWAITED_DOCUMENT, itemNumber="1100", quantity=12)
        print(f"[emulator] posted entry {entry['entryNumber']} with document {AWAITED_DOCUMENT}", flush=True)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def _print_manifests(lake: Path, run_id: str) -> None:
    """One line per company of the extraction run ``run_id``: rows, files, bytes, cursor window."""
    for path in sorted(lake.glob("itemLedgerEntries/company=*/*/_manifest.json")):
        manifest = json.loads(path.read_text())
        if manifest["run"].startswith(run_id):
            cursor = manifest["cursor"]
            restated = f"; posted since {cursor['restate_from']} read again" if cursor["restate_from"] else ""
            print(
                f"  company {manifest['company_id']}: {manifest['rows']:,} rows in {len(manifest['files'])} files "
                f"({manifest['bytes']:,} bytes); changed from {cursor['from'] or 'the beginning'} "
                f"to {cursor['to']}{restated}"
            )


@contextmanager
def _business_central() -> Iterator[Any]:
    """A client of the ``business_central_default`` connection (the emulator)."""
    from airflow_provider_bc.hooks.business_central import BusinessCentralHook

    client = BusinessCentralHook().new_client()
    try:
        yield client
    finally:
        client.close()


def _day_entries(day: str) -> list[dict[str, Any]]:
    """Business Central's entries posted on ``day``, in entry-number order, amounts exact."""
    with _business_central() as client:
        query = {"filter": f"postingDate eq {day}", "orderby": "entryNumber", "exact_numbers": True}
        return list(client.iter_entities("itemLedgerEntries", **query))


def _run_reconcile(dag: Any, day: str, reports: Path, *, reload: bool) -> tuple[Any, dict[str, Any]]:
    """The DAG's run of the midnight after ``day`` (its data interval is the day); the report it wrote."""
    import pendulum

    run = dag_test(
        dag,
        logical_date=pendulum.instance(dt.datetime.fromisoformat(day), tz="UTC").add(days=1),
        run_conf={"lake": (WORK / "lake").as_uri(), "report_destination": reports.as_uri(), "reload": reload},
    )
    folder = reports / run.run_id
    report = json.loads((folder / "report.json").read_text()) if (folder / "report.json").exists() else {}
    return run, report


def _print_report(report: dict[str, Any], folder: Path) -> None:
    """The report's rows, counts, gaps and samples, and where its HTML page is."""
    if not report:
        print("No report was written.")
        return
    rows, counts = report["rows"], report["counts"]
    print(
        f"Business Central {rows['business_central']} rows, warehouse {rows['warehouse']} rows; "
        + ", ".join(f"{kind} {count}" for kind, count in counts.items())
        + f"; {report['gaps']} gaps (entry numbers Business Central holds no entry for: not differences)"
    )
    samples = report["samples"]
    for kind in ("missing", "extra", "duplicate_warehouse"):
        if samples[kind]:
            print(f"  {kind}: entry {', '.join(map(str, samples[kind]))}")
    for change in samples["changed"]:
        for field in change["fields"]:
            print(
                f"  changed: entry {change['key']} {field['field']} {field['business_central']} in Business Central, "
                f"{field['warehouse']} in the warehouse"
            )
    totals = report["totals"] or {}
    for total in totals.get("samples", [])[:3]:
        group = ", ".join(f"{name} {value}" for name, value in total["group"].items())
        print(f"  totals: {group}: {total['field']} off by {total['difference']} in the warehouse")
    if counts["totals"] > 3:
        print(f"  ... {counts['totals']} sums per {' and '.join(totals['by'])} beyond their tolerance in all")
    print(f"Report: {folder / 'report.html'} (and report.json beside it)")


def _seed_differences(emulator: Any, day: str, entries: list[dict[str, Any]], table: str, columns: Any) -> None:
    """One difference of each kind between Business Central and the warehouse, each said as it is made."""
    import sqlite3
    from contextlib import closing

    deleted, missing, doubled, changed, within = entries[:5]
    emulator.delete_entry(None, deleted["id"])
    print(f"[emulator] deleted entry {deleted['entryNumber']} in Business Central (the warehouse keeps it: extra)")
    skipped = emulator.skip_entry_numbers(SKIPPED_NUMBERS)
    posted = emulator.insert_entry(postingDate=day, itemNumber="1100", quantity=2)
    print(
        f"[emulator] entry numbers {skipped[0]}..{skipped[-1]} skipped (a posting rolled back), "
        f"then entry {posted['entryNumber']} posted on {day} (gaps, not missing)"
    )
    names = list(columns)  # Business Central field -> the table's column
    numbers = ("quantity", "costAmountActual")
    insert = f"INSERT INTO {table} ({', '.join(columns.values())}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608
    key = columns["entryNumber"]
    with closing(sqlite3.connect(WORK / "warehouse.db")) as connection, connection:
        # the warehouse's own pipeline loads the new posting
        connection.execute(insert, [str(posted[f]) if f in numbers else posted[f] for f in names])
        connection.execute(f"DELETE FROM {table} WHERE {key} = ?", (missing["entryNumber"],))  # noqa: S608
        connection.execute(f"INSERT INTO {table} SELECT * FROM {table} WHERE {key} = ?", (doubled["entryNumber"],))  # noqa: S608
        quantity = columns["quantity"]
        connection.execute(
            f"UPDATE {table} SET {quantity} = {quantity} + 1 WHERE {key} = ?",  # noqa: S608
            (changed["entryNumber"],),
        )
        cost = columns["costAmountActual"]
        connection.execute(
            f"UPDATE {table} SET {cost} = ? WHERE {key} = ?",  # noqa: S608
            (str(within["costAmountActual"] + Decimal("0.004")), within["entryNumber"]),
        )
    print(
        f"[warehouse] entry {missing['entryNumber']} deleted (missing), {doubled['entryNumber']} doubled (duplicate), "
        f"{changed['entryNumber']} quantity + 1 (changed), {within['entryNumber']} costAmountActual + 0.004 "
        "(within the 0.01 tolerance: not reported)"
    )


def _reconcile_twice(emulator: Any, results: list[Outcome]) -> None:
    """The emulator's last day of postings loaded into a SQLite warehouse and reconciled; then one
    difference of each kind, and the warehouse reconciled again as it is (the run fails)."""
    from urllib.parse import quote

    from airflow_provider_bc.testing.airflow_runs import load_dag

    warehouse, reports = WORK / "warehouse.db", WORK / "reports"
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = f"sqlite://{quote(str(warehouse), safe='')}"  # a SQLite file
    dag = load_dag(DAGS / "bc_reconcile_item_ledger.py")
    task = dag.get_task("reconcile")
    with _business_central() as client:
        (newest,) = client.find_entities("itemLedgerEntries", orderby="entryNumber desc", top=1)
    day = newest["postingDate"]

    _banner(f"bc_reconcile_item_ledger: {day} (the emulator's last day) into a SQLite warehouse, then reconciled")
    run, report = _run_reconcile(dag, day, reports, reload=True)
    print(f"Warehouse: table {task.table} in {warehouse}")
    _print_report(report, reports / run.run_id)
    results.append(("bc_reconcile_item_ledger (extract, load, reconcile)", str(run.state), "success"))

    _banner("bc_reconcile_item_ledger: one difference of each kind, the warehouse reconciled as it is (reload=false)")
    _seed_differences(emulator, day, _day_entries(day), task.table, task.columns)
    print(
        "This run is expected to FAIL: the reconcile task fails on any difference (fail_on), after writing the "
        "report; Airflow logs the failure with its traceback."
    )
    run, report = _run_reconcile(dag, day, reports, reload=False)
    _print_report(report, reports / run.run_id)
    results.append(("bc_reconcile_item_ledger (one difference of each kind)", str(run.state), "failed"))


def _extract_twice(emulator: Any, results: list[Outcome]) -> None:
    """The daily extraction, then entries posted and modified, then the next day's run."""
    from airflow_provider_bc.testing.airflow_runs import load_dag

    lake = WORK / "lake"
    conf = {"destination": lake.as_uri()}
    dag = load_dag(DAGS / "bc_extract_item_ledger.py")
    _banner(f"bc_extract_item_ledger: every company's item ledger into {lake} (first run: everything)")
    first = dag.test(run_conf=conf)
    _print_manifests(lake, first.run_id)
    company = emulator.default_company_id
    posted = [emulator.insert_entry(itemNumber="1100", quantity=i + 1) for i in range(3)]
    emulator.modify_entry(company, emulator.documented_entry_id, description="changed after the first run")
    print(f"[emulator] posted {len(posted)} entries and modified the documented one")
    _banner("bc_extract_item_ledger: the next run reads only what changed")
    second = dag.test(run_conf=conf)
    _print_manifests(lake, second.run_id)
    results.append(("bc_extract_item_ledger (first run)", str(first.state), "success"))
    results.append(("bc_extract_item_ledger (second run)", str(second.state), "success"))


def main() -> int:
    exit_without_emulator_extra()
    shutil.rmtree(WORK, ignore_errors=True)
    prepare_airflow_home(WORK / "airflow-home", DAGS)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # task output and warnings only

    from airflow_provider_bc.testing.airflow_runs import create_metadata_db, load_dag, xcom_value
    from airflow_provider_bc.testing.emulator import EmulatorHandle

    results: list[Outcome] = []
    with EmulatorHandle.start(entries=DEMO_ENTRIES) as emulator:
        os.environ["AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT"] = emulator.airflow_connection_env()
        print(f"Emulator at {emulator.base_url} (tenant {emulator.tenant_id}, {DEMO_ENTRIES:,} entries)")
        create_metadata_db()

        _banner("bc_fetch_item_ledger_entry: fetch Microsoft's documented entry by id")
        run = load_dag(DAGS / "bc_fetch_item_ledger_entry.py").test()
        print("XCom of get_entry:", json.dumps(xcom_value(run, "get_entry"), indent=2))
        print("describe_entry said:", xcom_value(run, "describe_entry"))
        results.append(("bc_fetch_item_ledger_entry", str(run.state), "success"))

        _reconcile_twice(emulator, results)

        _banner(f"bc_wait_for_posting: wait (deferrable) for document {AWAITED_DOCUMENT}; posted in 4 s")
        poster = _post_later(emulator, 4.0)
        run = load_dag(DAGS / "bc_wait_for_posting.py").test(run_conf={"document_number": AWAITED_DOCUMENT})
        poster.join()
        print("The sensor found:", json.dumps(xcom_value(run, "wait_for_entry")))
        print("announce said:", xcom_value(run, "announce"))
        results.append(("bc_wait_for_posting", str(run.state), "success"))

        _extract_twice(emulator, results)

        for name, state, expected in results:
            print(f"{name}: {state}" + ("" if expected == "success" else ", as expected" if state == expected else ""))
        unexpected = [f"{name} ({state})" for name, state, expected in results if state != expected]
        if unexpected:
            print(f"FAILED: {', '.join(unexpected)}")
            return 1
    print("\nEvery example DAG ran as expected against the emulator.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
