"""The README's demo: the example DAGs run with ``dag.test()`` against a fresh emulator.

``python3 dev.py demo`` (or ``python -m airflow_provider_bc.testing.demo``) from a checkout; not in
the wheel, since it runs the checkout's ``dags_examples/``. It starts the emulator, points a
throw-away Airflow home (``.demo/``) at it, runs the fetch, wait and reconcile DAGs for real, then
the daily extraction twice (entries posted and modified in between; files in ``.demo/lake``),
prints what they fetched, found and wrote, and exits non-zero if one failed (2: the ``[emulator]``
extra is missing).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from airflow_provider_bc.testing.airflow_runs import dag_test, prepare_airflow_home
from airflow_provider_bc.testing.emulator.extra import exit_without_emulator_extra

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags_examples"
WORK = REPO / ".demo"
DEMO_ENTRIES = 20_000  # the data set data/expected_item_ledger.csv was written for (seed 42)
RECONCILED_DAY = (2022, 6, 2)
AWAITED_DOCUMENT = "DEMO-0001"


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


def _extract_twice(emulator: Any, results: list[tuple[str, str]]) -> None:
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
    results.append(("bc_extract_item_ledger (first run)", str(first.state)))
    results.append(("bc_extract_item_ledger (second run)", str(second.state)))


def main() -> int:
    exit_without_emulator_extra()
    shutil.rmtree(WORK, ignore_errors=True)
    prepare_airflow_home(WORK / "airflow-home", DAGS)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # task output and warnings only

    import pendulum

    from airflow_provider_bc.testing.airflow_runs import create_metadata_db, load_dag, task_states, xcom_value
    from airflow_provider_bc.testing.emulator import EmulatorHandle

    results: list[tuple[str, str]] = []
    with EmulatorHandle.start(entries=DEMO_ENTRIES) as emulator:
        os.environ["AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT"] = emulator.airflow_connection_env()
        print(f"Emulator at {emulator.base_url} (tenant {emulator.tenant_id}, {DEMO_ENTRIES:,} entries)")
        create_metadata_db()

        _banner("bc_fetch_item_ledger_entry: fetch Microsoft's documented entry by id")
        run = load_dag(DAGS / "bc_fetch_item_ledger_entry.py").test()
        print("XCom of get_entry:", json.dumps(xcom_value(run, "get_entry"), indent=2))
        print("describe_entry said:", xcom_value(run, "describe_entry"))
        results.append(("bc_fetch_item_ledger_entry", str(run.state)))

        _banner(f"bc_wait_for_posting: wait (deferrable) for document {AWAITED_DOCUMENT}; posted in 4 s")
        poster = _post_later(emulator, 4.0)
        run = load_dag(DAGS / "bc_wait_for_posting.py").test(run_conf={"document_number": AWAITED_DOCUMENT})
        poster.join()
        print("The sensor found:", json.dumps(xcom_value(run, "wait_for_entry")))
        print("announce said:", xcom_value(run, "announce"))
        results.append(("bc_wait_for_posting", str(run.state)))

        day = pendulum.datetime(*RECONCILED_DAY, tz="UTC")
        _banner(f"bc_reconcile_item_ledger: reconcile {day.date()} against the expected ledger")
        reports = WORK / "reports"
        # a manual run at midnight after the day covers the day's complete interval
        run = dag_test(
            load_dag(DAGS / "bc_reconcile_item_ledger.py"),
            logical_date=day.add(days=1),
            run_conf={"report_dir": f"file://{reports}"},
        )
        report = xcom_value(run, "reconcile") or {}
        print(f"Reconciled {report.get('items')} items; differences:")
        for diff in report.get("differences", []):
            print(f"  {diff}")
        print(f"Report written to {reports}")
        results.append(("bc_reconcile_item_ledger", str(run.state)))

        _extract_twice(emulator, results)

        for dag_id, state in results:
            print(f"{dag_id}: {state}")
        failed = [dag_id for dag_id, state in results if state != "success"]
        if failed:
            print(f"FAILED: {', '.join(failed)}; task states: {task_states(run)}")
            return 1
    print("\nAll example DAGs succeeded against the emulator.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
