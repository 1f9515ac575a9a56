"""The README's demo: the example DAGs run with ``dag.test()`` against a fresh emulator.

``python3 dev.py demo`` (or ``python -m airflow_provider_bc.testing.demo``) from a checkout; not in
the wheel, since it runs the checkout's ``dags_examples/``. It starts the emulator, points a
throw-away Airflow home (``.demo/``) at it and runs for real: the fetch DAG; the reconcile DAG on the
emulator's last day of postings, loading a SQLite warehouse (``.demo/warehouse.db``), then again
without reloading after one difference of each kind was made (that run fails, as expected); the
wait DAG; the daily extraction twice (entries posted and modified in between; files in
``.demo/lake``). Last, on Airflow 3, the event-driven example ``bc_extract_posted_entries`` on Airflow
run as processes (API server, scheduler, DAG processor, triggerer; LocalExecutor, SQLite; its own home
``.demo/event-driven/airflow-home``, the processes' logs in ``.demo/event-driven/logs``): entries posted
twice in a company of the emulator, and the asset-triggered runs that follow, each with its state, the
range its events signalled, the entries it extracted and how soon after the posting it started. It prints
what they fetched, found and wrote, the reports' paths (``.demo/reports/<run id>/report.html``), and
exits non-zero if a run ended otherwise than expected (2: the ``[emulator]`` extra is missing).
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
from urllib.parse import unquote_plus

from airflow_provider_bc.client.wording import counted, word_for
from airflow_provider_bc.testing.airflow_runs import dag_test, prepare_airflow_home
from airflow_provider_bc.testing.emulator.extra import exit_without_emulator_extra

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags_examples"
WORK = REPO / ".demo"
#: the Airflow home of the ``dag.test()`` runs; its SQLite metadata DB; Airflow's task log folder
HOME = WORK / "airflow-home"
METADATA_DB = HOME / "airflow.db"
TASK_LOGS = HOME / "logs"
#: the daily extraction's lake; the reconciliation's SQLite warehouse and its reports (a folder per run)
LAKE = WORK / "lake"
WAREHOUSE = WORK / "warehouse.db"
REPORTS = WORK / "reports"
#: the event-driven step: Airflow run as processes, its own home, the processes' logs, the lake it extracts into
EVENT_DRIVEN = WORK / "event-driven"
EVENT_HOME = EVENT_DRIVEN / "airflow-home"
EVENT_LOGS = EVENT_DRIVEN / "logs"
EVENT_LAKE = EVENT_DRIVEN / "lake"
DEMO_ENTRIES = 20_000
AWAITED_DOCUMENT = "DEMO-0001"
SKIPPED_NUMBERS = 3

#: a DAG run shown: its name, the state it ended in, the state the demo expects
Outcome = tuple[str, str, str]


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def _print_paths(title: str, *, event_driven: bool) -> None:
    """Where the demo writes, absolute paths (all under ``.demo/``, removed when the demo starts again);
    the event-driven step's only if it runs (Airflow 3)."""
    print(f"{title} (under {WORK}, removed when the demo starts again):")
    print(f"  Airflow home: {HOME}")
    print(f"  Airflow metadata DB (SQLite): {METADATA_DB}")
    print(
        f"  Airflow task logs folder: {TASK_LOGS} (empty here: dag.test() runs the tasks in this process and "
        "prints their logs in this output)"
    )
    print(f"  extraction lake: {LAKE}")
    print(f"  reconciliation warehouse (SQLite): {WAREHOUSE}")
    print(f"  reconciliation reports: {REPORTS} (a folder per run: report.html, report.json)")
    if event_driven:
        print(f"  event-driven step, Airflow home: {EVENT_HOME} (its metadata DB airflow.db, task logs in logs/)")
        print(f"  event-driven step, Airflow processes' logs: {EVENT_LOGS}")
        print(f"  event-driven step, extraction lake: {EVENT_LAKE}")
    else:
        print("  event-driven step: skipped (asset watchers need Airflow 3)")
    sys.stdout.flush()


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
                f"  company {manifest['company_id']}: {counted(manifest['rows'], 'row')} in "
                f"{counted(len(manifest['files']), 'file')} ({counted(manifest['bytes'], 'byte')}); "
                f"changed from {cursor['from'] or 'the beginning'} to {cursor['to']}{restated}"
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
        run_conf={"lake": LAKE.as_uri(), "report_destination": reports.as_uri(), "reload": reload},
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
        f"Business Central {counted(rows['business_central'], 'row')}, warehouse {counted(rows['warehouse'], 'row')}; "
        + ", ".join(f"{kind} {count}" for kind, count in counts.items())
        + f"; {counted(report['gaps'], 'gap')} (entry numbers Business Central holds no entry for: not differences)"
    )
    samples = report["samples"]
    for kind in ("missing", "extra", "duplicate_warehouse"):
        if samples[kind]:
            print(f"  {kind}: {word_for(len(samples[kind]), 'entry')} {', '.join(map(str, samples[kind]))}")
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
        print(
            f"  ... {counted(counts['totals'], 'sum')} per {' and '.join(totals['by'])} beyond their tolerance in all"
        )
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
    with closing(sqlite3.connect(WAREHOUSE)) as connection, connection:
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

    os.environ["AIRFLOW_CONN_WAREHOUSE"] = f"sqlite://{quote(str(WAREHOUSE), safe='')}"  # a SQLite file
    dag = load_dag(DAGS / "bc_reconcile_item_ledger.py")
    task = dag.get_task("reconcile")
    with _business_central() as client:
        (newest,) = client.find_entities("itemLedgerEntries", orderby="entryNumber desc", top=1)
    day = newest["postingDate"]

    _banner(f"bc_reconcile_item_ledger: {day} (the emulator's last day) into a SQLite warehouse, then reconciled")
    run, report = _run_reconcile(dag, day, REPORTS, reload=True)
    print(f"Warehouse: table {task.table} in {WAREHOUSE}")
    _print_report(report, REPORTS / run.run_id)
    results.append(("bc_reconcile_item_ledger (extract, load, reconcile)", str(run.state), "success"))

    _banner("bc_reconcile_item_ledger: one difference of each kind, the warehouse reconciled as it is (reload=false)")
    _seed_differences(emulator, day, _day_entries(day), task.table, task.columns)
    print(
        "This run is expected to FAIL: the reconcile task fails on any difference (fail_on), after writing the "
        "report; Airflow logs the failure with its traceback."
    )
    run, report = _run_reconcile(dag, day, REPORTS, reload=False)
    _print_report(report, REPORTS / run.run_id)
    results.append(("bc_reconcile_item_ledger (one difference of each kind)", str(run.state), "failed"))


def _extract_twice(emulator: Any, results: list[Outcome]) -> None:
    """The daily extraction, then entries posted and modified, then the next day's run."""
    from airflow_provider_bc.testing.airflow_runs import load_dag

    conf = {"destination": LAKE.as_uri()}
    dag = load_dag(DAGS / "bc_extract_item_ledger.py")
    _banner(f"bc_extract_item_ledger: every company's item ledger into {LAKE} (first run: everything)")
    first = dag.test(run_conf=conf)
    _print_manifests(LAKE, first.run_id)
    company = emulator.default_company_id
    posted = [emulator.insert_entry(itemNumber="1100", quantity=i + 1) for i in range(3)]
    emulator.modify_entry(company, emulator.documented_entry_id, description="changed after the first run")
    print(f"[emulator] posted {counted(len(posted), 'entry')} and modified the documented one")
    _banner("bc_extract_item_ledger: the next run reads only what changed")
    second = dag.test(run_conf=conf)
    _print_manifests(LAKE, second.run_id)
    results.append(("bc_extract_item_ledger (first run)", str(first.state), "success"))
    results.append(("bc_extract_item_ledger (second run)", str(second.state), "success"))


# ----- the event-driven example, on Airflow running as processes -----

POSTED_DAG = "bc_extract_posted_entries"
#: the watcher's poll interval, in seconds
POLL = 2.0
#: seconds to wait for the runs that follow a posting (a poll, the scheduler, the run)
RUNS_TIMEOUT = 60.0


def _posted_runs(database: str) -> dict[str, dict[str, Any]]:
    """The consumer DAG's runs by run id: state, start (UTC), the range ``signalled_range`` returned (XCom)."""
    from airflow_provider_bc.testing.airflow_processes import as_datetime, patient_query

    sql = (
        "SELECT r.run_id, r.state, r.start_date, x.value FROM dag_run r LEFT JOIN xcom x ON x.dag_id = r.dag_id "
        "AND x.run_id = r.run_id AND x.task_id = 'signalled_range' AND x.key = 'return_value' "
        "WHERE r.dag_id = :dag_id ORDER BY r.id"
    )
    runs = {}
    for run_id, state, start_date, value in patient_query(database, sql, dag_id=POSTED_DAG):
        started = as_datetime(start_date) if start_date is not None else None
        if started is not None and started.tzinfo is None:
            started = started.replace(tzinfo=dt.timezone.utc)
        signalled = json.loads(value) if isinstance(value, str | bytes) else value
        runs[str(run_id)] = {"state": str(state), "started": started, "signalled": signalled}
    return runs


def _covered(runs: dict[str, dict[str, Any]], numbers: list[int]) -> bool:
    """Whether every one of ``numbers`` is in the signalled range of a run that ended."""
    ranges = [
        (run["signalled"]["from"], run["signalled"]["to"])
        for run in runs.values()
        if run["state"] in ("success", "failed") and run["signalled"]
    ]
    return all(any(low < number <= high for low, high in ranges) for number in numbers)


def _post(
    emulator: Any, company: dict[str, str], count: int, batches: list[tuple[list[int], dt.datetime]]
) -> list[int]:
    """``count`` entries posted now in ``company``, said and remembered with the time of posting; their numbers."""
    numbers = [
        int(emulator.insert_entry(company["id"], itemNumber="1100", quantity=i + 1)["entryNumber"])
        for i in range(count)
    ]
    batches.append((numbers, dt.datetime.now(dt.timezone.utc)))
    print(f"[emulator] posted entries {numbers[0]}..{numbers[-1]} in {company['name']}", flush=True)
    return numbers


def _print_posted_runs(
    runs: dict[str, dict[str, Any]], batches: list[tuple[list[int], dt.datetime]], lake: Path, company: str
) -> list[Outcome]:
    """One line per run: id, state, the range its events signalled, the entries extracted, the time from
    the posting of its last entry to its start; a run's outcome, and whether every posted entry was
    extracted by exactly one run that succeeded."""
    outcomes: list[Outcome] = []
    extracted: list[int] = []  # the posted entries in the range of a run that extracted them all
    for run_id, run in runs.items():
        signalled, line = run["signalled"], f"  run {run_id}: {run['state']}"
        if signalled:
            low, high = signalled["from"], signalled["to"]
            events = len(set(signalled["idempotency_keys"]))
            folder = lake / "itemLedgerEntries" / f"company={company}" / signalled["run_name"]
            manifest = folder / "_manifest.json"
            rows = json.loads(manifest.read_text())["rows"] if manifest.exists() else None
            line += (
                f"; signalled entries {low + 1}..{high} (entryNumber > {low} and <= {high}, {signalled['count']} "
                f"in {counted(events, 'event')}); "
                + (f"{rows} extracted into {folder}" if rows is not None else "nothing extracted (no manifest)")
            )
            posted = [n for numbers, _ in batches for n in numbers if low < n <= high]
            if rows == len(posted) and run["state"] == "success":
                extracted += posted
            last = [at for numbers, at in batches if any(low < n <= high for n in numbers)]
            if last and run["started"] is not None:
                line += f"; started {(run['started'] - last[-1]).total_seconds():.1f} s after its last entry was posted"
        print(line)
        outcomes.append((f"{POSTED_DAG} ({run_id})", run["state"], "success"))
    posted = [n for numbers, _ in batches for n in numbers]
    every = sorted(extracted) == posted
    if not every:
        print(f"NOT every posted entry was extracted once: posted {posted}, extracted {sorted(extracted)}")
    outcomes.append((f"{POSTED_DAG} (every posted entry extracted once)", "success" if every else "failed", "success"))
    return outcomes


def _posted_entries_start_runs(emulator: Any, results: list[Outcome]) -> None:
    """The event-driven example on Airflow run for real (API server, scheduler, DAG processor, triggerer
    as processes; LocalExecutor, SQLite), its watcher polling the emulator every 2 s: entries posted
    twice, and the runs that follow shown. Every process is stopped at the end, whatever happens."""
    from airflow import __version__ as airflow_version

    from airflow_provider_bc.testing.airflow_processes import (
        Services,
        airflow_cli,
        airflow_env,
        database_url,
        free_port,
        start_airflow,
        wait_for,
    )

    home, dags, lake = EVENT_HOME, EVENT_DRIVEN / "dags", EVENT_LAKE
    _banner(f"{POSTED_DAG}: Airflow as processes, its asset watcher polling every {POLL:.0f} s; entries posted")
    if int(airflow_version.split(".")[0]) < 3:
        print(f"Skipped: asset watchers need Airflow 3 (this is Airflow {airflow_version}).")
        return
    dags.mkdir(parents=True)
    shutil.copy(DAGS / f"{POSTED_DAG}.py", dags)
    # a company the demo posted nothing in so far: the watcher starts at its newest entry, and what is posted
    # now is signalled at the next poll (in the default company, the numbers the reconciliation skipped a
    # minute ago would hold the watcher back for its commit lag, 15 minutes: a gap may be a posting open)
    company = emulator.companies[1]
    env = airflow_env(
        home,
        dags,
        api_port=free_port(),
        executor="LocalExecutor",
        paused_at_creation=False,  # a paused DAG's asset has no watcher
        connections={"business_central_default": emulator.airflow_connection_env()},
        settings={
            "BC_COMPANY_ID": company["id"],
            "BC_POLL_INTERVAL": str(POLL),
            "BC_LAKE": lake.as_uri(),
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        },
    )
    services = Services(EVENT_LOGS)
    print(
        f"Airflow home {home} (SQLite DB airflow.db, task logs in logs/); the processes' logs in {services.logs}; "
        f"DAG folder {dags}; watching {company['name']} ({company['id']})"
    )
    begin, batches = time.monotonic(), list[tuple[list[int], dt.datetime]]()
    try:
        airflow_cli(env, "db", "migrate")
        started_at = time.time()
        start_airflow(services, env, dag_ids=[POSTED_DAG], triggerer=True, report=lambda m: print(f"[airflow] {m}"))

        def probes() -> int:  # the watcher's polls (its $top=1 probes of the highest entry number) since the start
            return sum(
                r["route"] == "itemLedgerEntries"
                and r["time"] > started_at
                and unquote_plus(r["path"]).endswith("?$select=entryNumber&$orderby=entryNumber desc")
                for r in emulator.recent_requests()
            )

        # two polls: the first one, which took the newest entry as its starting point, is over
        seconds = wait_for("the watcher's first polls", lambda: probes() >= 2, services, RUNS_TIMEOUT)
        print(
            f"[airflow] the watcher polled the emulator after {seconds:.0f} s more "
            f"({time.monotonic() - begin:.0f} s since the start of this step)"
        )
        database = database_url(env)
        first = _post(emulator, company, 3, batches)
        wait_for(
            "a run started by the posting",
            lambda: any(r["started"] is not None for r in _posted_runs(database).values()),
            services,
            RUNS_TIMEOUT,
        )
        second = _post(emulator, company, 2, batches)

        def done() -> bool:
            runs = _posted_runs(database)
            ended = all(r["state"] in ("success", "failed") for r in runs.values())
            return ended and _covered(runs, first + second)

        try:
            wait_for("the runs to end", done, services, RUNS_TIMEOUT)
        except TimeoutError as error:
            print(f"{error}: the runs as they are")
        results += _print_posted_runs(_posted_runs(database), batches, lake, company["id"])
    except Exception as error:  # Airflow did not start or a process ended: said, and the demo fails
        print(f"FAILED: {error}")
        services.show_logs(file=sys.stdout)
        results.append((f"{POSTED_DAG} (Airflow as processes)", "failed", "success"))
    finally:
        services.stop()
    print(f"This step took {time.monotonic() - begin:.0f} s; Airflow's processes are stopped")


def main() -> int:
    exit_without_emulator_extra()
    shutil.rmtree(WORK, ignore_errors=True)
    prepare_airflow_home(HOME, DAGS)
    # task logs in Airflow's default folder, logs/ of each of the demo's homes (the event-driven step's processes
    # inherit this environment)
    os.environ.pop("AIRFLOW__LOGGING__BASE_LOG_FOLDER", None)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # task output and warnings only
    from airflow import __version__ as airflow_version

    event_driven = int(airflow_version.split(".")[0]) >= 3
    _print_paths("Where the demo writes", event_driven=event_driven)

    from airflow_provider_bc.testing.airflow_runs import create_metadata_db, load_dag, xcom_value
    from airflow_provider_bc.testing.emulator import EmulatorHandle

    results: list[Outcome] = []
    with EmulatorHandle.start(entries=DEMO_ENTRIES) as emulator:
        os.environ["AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT"] = emulator.airflow_connection_env()
        print(f"Emulator at {emulator.base_url} (tenant {emulator.tenant_id}, {counted(DEMO_ENTRIES, 'entry')})")
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

        _posted_entries_start_runs(emulator, results)

    _banner("Summary")
    for name, state, expected in results:
        print(f"{name}: {state}" + ("" if expected == "success" else ", as expected" if state == expected else ""))
    print()
    _print_paths("What the demo wrote", event_driven=event_driven)
    unexpected = [f"{name} ({state})" for name, state, expected in results if state != expected]
    if unexpected:
        print(f"FAILED: {', '.join(unexpected)}")
        return 1
    print("\nEvery example DAG ran as expected against the emulator.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
