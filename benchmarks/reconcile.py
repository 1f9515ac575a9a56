"""Reconciliation of item ledger entries against PostgreSQL, beside an extraction of the same fields.

One emulator (``--bandwidth 2000000 --latency 0.2`` by default) holds ``--entries`` entries (default
1,000,000); a PostgreSQL server (Debian's package, started as in the tests) holds the same entries,
read once with bandwidth and latency lifted, in table ``ledger`` whose columns are named otherwise and
whose key column ``entry_no`` has an index (as a warehouse's key has; ``counts`` counts by key range).
Then ``--differences`` (default 1,000) of every kind are seeded, on distinct random entries:

* missing: rows deleted from the warehouse;
* extra: entries deleted in Business Central (``delete_entry``), their rows kept in the warehouse;
* duplicate: rows doubled in the warehouse;
* changed: ``quantity`` + 1 in the warehouse;
* within tolerance: ``costAmountActual`` + 0.004 (tolerance 0.01): never reported as changed;
* gaps: ``--differences`` entry numbers skipped in Business Central, then one entry posted (and loaded):
  gaps, never missing.

Side by side in one run, each in a fresh interpreter without Airflow (peak RSS ``VmHWM`` its own):

* ``full``: the engine (what the operator runs), fields ``quantity`` (exact) and ``costAmountActual``
  (0.01), ``samples`` = ``--differences`` so that every key found is listed and checked against the seeds;
* ``extract``: the extraction (NDJSON, 5 streams, 5,000 a page) with ``$select`` of the same fields;
* ``full`` at N/10 (``entryNumber le N/10`` on both sides) for the memory ratio;
* ``counts`` against a second table, a clean copy less 10 random rows: the emulator's request count
  and the time, against ``full``'s.

    python benchmarks/reconcile.py [--entries 1000000] [--differences 1000]

Ends with ``RESULT found_all=<true|false> invented=<n> time_vs_extract=<x> rss_mb=<x> rss_ratio=<x>
counts_requests=<n> counts_time_share=<x>`` (targets: found_all true, invented 0, time_vs_extract ≤ 1.3,
rss_mb ≤ 200, rss_ratio ≤ 1.2, counts_requests ≤ 300, counts_time_share ≤ 0.1). MB are 10^6 bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.reconciliation: the PostgreSQL server the tests start

from extract import client_settings, emulator_conn, peak_rss_mb  # noqa: E402 (beside this script; peak RSS as VmHWM)

ENTITY_SET = "itemLedgerEntries"
COLUMNS = {
    "entryNumber": "entry_no",
    "itemNumber": "item_no",
    "postingDate": "posting_date",
    "quantity": "qty",
    "costAmountActual": "cost_actual",
}
FIELDS = {"quantity": None, "costAmountActual": {"absolute": "0.01"}}
COUNTS_MISSING = 10


# ----- the measured runs, each in a child interpreter -----


def run_reconcile(request: dict[str, Any]) -> dict[str, Any]:
    """The engine as the operator runs it, against table ``request["table"]``."""
    import psycopg2

    from airflow_provider_bc.client.client import BusinessCentralClient
    from airflow_provider_bc.client.thread_clients import ThreadClients
    from airflow_provider_bc.reconciliation.business_central import BusinessCentralSide
    from airflow_provider_bc.reconciliation.report import fail_on_of
    from airflow_provider_bc.reconciliation.run import Reconciliation
    from airflow_provider_bc.reconciliation.spec import build_spec
    from airflow_provider_bc.reconciliation.warehouse import Dialect, Warehouse, WarehouseSource
    from airflow_provider_bc.tasks.warehouse_hooks import open_cursor

    conn, limit = request["conn"], request["limit"]
    settings = client_settings(conn)
    rss_before = peak_rss_mb()
    begin = time.perf_counter()
    spec = build_spec(
        entity_set=ENTITY_SET,
        company_id=conn["company_id"],
        fields=FIELDS if request["strategy"] == "full" else None,
        filter=f"entryNumber le {limit}" if limit else None,
        strategy=request["strategy"],
        samples=request["samples"],
    )
    table = request["table"]
    where = f" WHERE entry_no <= {int(limit)}" if limit else ""
    source = (
        WarehouseSource(query=f"SELECT * FROM {table}{where}", columns=COLUMNS)
        if limit
        else WarehouseSource(table=table, columns=COLUMNS)
    )
    warehouse = Warehouse(source, Dialect(), lambda: psycopg2.connect(request["dsn"]), open_cursor=open_cursor)
    clients = ThreadClients(lambda: BusinessCentralClient(settings))
    try:
        report = Reconciliation(spec, BusinessCentralSide(spec, clients), warehouse).run(fail_on_of({}), description={})
    finally:
        clients.close()
        warehouse.close()
    return {"seconds": time.perf_counter() - begin, "report": report, "rss_before_mb": rss_before}


def run_extract(request: dict[str, Any]) -> dict[str, Any]:
    """The extraction of the same fields (``$select``), NDJSON, 5 streams, into a temporary folder."""
    import logging

    from upath import UPath

    from airflow_provider_bc.client.client import BusinessCentralClient
    from airflow_provider_bc.extraction.run import Extraction, ExtractionSpec

    logging.basicConfig(level=logging.WARNING)
    settings = client_settings(request["conn"])
    spec = ExtractionSpec(
        entity_set=ENTITY_SET,
        company_id=request["conn"]["company_id"],
        run_name="bench",
        select=list(COLUMNS),
        page_size=5_000,
        max_streams=5,
    )
    rss_before = peak_rss_mb()
    begin = time.perf_counter()
    manifest = Extraction(spec, UPath(Path(request["root"]).as_uri()), lambda: BusinessCentralClient(settings)).run()
    return {"seconds": time.perf_counter() - begin, "rows": manifest["rows"], "rss_before_mb": rss_before}


def child(request: dict[str, Any]) -> None:
    result = run_extract(request) if request["mode"] == "extract" else run_reconcile(request)
    result["rss_mb"] = peak_rss_mb()
    print(json.dumps(result, default=str))


# ----- the parent: emulator, PostgreSQL, seeds, children, checks -----


def measure(emulator: Any, request: dict[str, Any]) -> dict[str, Any]:
    """``request`` run in a fresh interpreter; its result with the emulator's request count."""
    emulator.reset()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(request)], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode:
        raise SystemExit(f"{request['mode']} failed:\n{out.stderr[-4000:]}")
    result = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    result["requests"], result["http_requests"] = business_central_requests(emulator.stats())
    return result


def business_central_requests(stats: dict[str, Any]) -> tuple[int, int]:
    """Business Central's requests, each GET inside a ``$batch`` counted as one (as its rate limit may
    count them), and its HTTP requests; Entra's token requests left out."""
    from airflow_provider_bc.testing.emulator.routes import BATCH, ENTRA_ROUTES

    http = {route: sum(statuses.values()) for route, statuses in stats["requests"].items() if route not in ENTRA_ROUTES}
    operations = sum(sum(statuses.values()) for statuses in stats["operations"].values())
    return sum(http.values()) - http.get(BATCH, 0) + operations, sum(http.values())


def read_all(emulator: Any, conn: dict[str, Any]) -> list[dict[str, Any]]:
    """Every entry (id and the compared fields), bandwidth and latency lifted for the read."""
    from airflow_provider_bc.client.client import BusinessCentralClient

    emulator.configure(bandwidth=0, latency=0)
    client = BusinessCentralClient(client_settings(conn))
    try:
        return list(
            client.iter_entities(
                ENTITY_SET, select=["id", *COLUMNS], orderby="entryNumber", page_size=20_000, exact_numbers=True
            )
        )
    finally:
        client.close()
        emulator.reset()


def load(cursor: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """``rows`` into a new table ``table`` by ``COPY``."""
    cursor.execute(
        f"CREATE TABLE {table} (entry_no BIGINT, item_no TEXT, posting_date DATE, qty NUMERIC(28, 10), "
        "cost_actual NUMERIC(28, 10))"
    )
    text = io.StringIO("".join("\t".join(str(row[f]) for f in COLUMNS) + "\n" for row in rows))
    cursor.copy_expert(f"COPY {table} ({', '.join(COLUMNS.values())}) FROM STDIN", text)
    cursor.execute(f"CREATE INDEX {table}_entry_no ON {table} (entry_no)")


def seed(emulator: Any, cursor: Any, rows: list[dict[str, Any]], count: int) -> dict[str, set[int]]:
    """``count`` differences of every kind on distinct random entries (see the module's docstring)."""
    picked = random.Random(20).sample(rows, 5 * count)
    kinds = {
        name: picked[i * count : (i + 1) * count] for i, name in enumerate(("missing", "extra", "dup", "chg", "tol"))
    }
    cursor.execute("DELETE FROM ledger WHERE entry_no = ANY(%s)", ([r["entryNumber"] for r in kinds["missing"]],))
    for row in kinds["extra"]:
        emulator.delete_entry(None, row["id"])
    cursor.execute(
        "INSERT INTO ledger SELECT * FROM ledger WHERE entry_no = ANY(%s)", ([r["entryNumber"] for r in kinds["dup"]],)
    )
    cursor.execute(
        "UPDATE ledger SET qty = qty + 1 WHERE entry_no = ANY(%s)", ([r["entryNumber"] for r in kinds["chg"]],)
    )
    cursor.execute(
        "UPDATE ledger SET cost_actual = cost_actual + 0.004 WHERE entry_no = ANY(%s)",
        ([r["entryNumber"] for r in kinds["tol"]],),
    )
    gap = emulator.skip_entry_numbers(count)
    posted = emulator.insert_entry(itemNumber="1100", quantity=1, postingDate=rows[-1]["postingDate"])
    posted["costAmountActual"] = Decimal(str(posted["costAmountActual"]))
    load_rows = "\t".join(str(posted[f]) for f in COLUMNS) + "\n"
    cursor.copy_expert(f"COPY ledger ({', '.join(COLUMNS.values())}) FROM STDIN", io.StringIO(load_rows))
    return {
        "missing": {r["entryNumber"] for r in kinds["missing"]},
        "extra": {r["entryNumber"] for r in kinds["extra"]},
        "duplicate_warehouse": {r["entryNumber"] for r in kinds["dup"]},
        "changed": {r["entryNumber"] for r in kinds["chg"]},
        "gap": set(gap),
    }


def judge(report: dict[str, Any], seeded: dict[str, set[int]]) -> tuple[bool, int]:
    """Whether every seeded difference was found, and how many reported ones were never seeded."""
    found_all, invented = True, 0
    for kind in ("missing", "extra", "duplicate_warehouse", "changed"):
        listed = report["samples"][kind]
        keys = {item["key"] for item in listed} if kind == "changed" else set(listed)
        found_all &= keys == seeded[kind] and report["counts"][kind] == len(seeded[kind])
        invented += len(keys - seeded[kind]) + max(0, report["counts"][kind] - len(seeded[kind]))
    wrong_fields = [c for c in report["samples"]["changed"] if [f["field"] for f in c["fields"]] != ["quantity"]]
    invented += len(wrong_fields) + report["counts"]["duplicate_business_central"]
    found_all &= not (seeded["gap"] & set(report["samples"]["missing"]))
    return found_all, invented


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000, help="item ledger entries (N)")
    parser.add_argument("--differences", type=int, default=1_000, help="seeded differences of every kind")
    parser.add_argument("--bandwidth", type=int, default=2_000_000, help="emulator bytes/s per answer")
    parser.add_argument("--latency", type=float, default=0.2, help="emulator seconds added per request")
    args = parser.parse_args()
    entries, count = args.entries, args.differences

    from airflow_provider_bc.testing.emulator import EmulatorHandle
    from tests.reconciliation.postgres_server import PostgresServer, ensure_postgresql

    print(
        f"Reconciliation of {entries:,} entries, {count:,} differences of every kind; emulator at "
        f"{args.bandwidth:,} B/s per answer, {args.latency} s latency; {os.cpu_count()} CPUs"
    )
    with (
        EmulatorHandle.start(
            entries=entries, bandwidth=args.bandwidth, latency=args.latency, timeout=max(120.0, entries / 2_000)
        ) as emulator,
        PostgresServer(ensure_postgresql()) as server,
        tempfile.TemporaryDirectory(prefix="bc-reconcile-bench-") as scratch,
    ):
        conn = emulator_conn(emulator)
        begin = time.perf_counter()
        rows = read_all(emulator, conn)
        database = server.connect()
        database.autocommit = True
        cursor = database.cursor()
        load(cursor, "ledger", rows)
        seeded = seed(emulator, cursor, rows, count)
        current = read_all(emulator, conn)  # after the seeds: what a clean warehouse holds
        load(cursor, "ledger_clean", current)
        counts_missing = {r["entryNumber"] for r in random.Random(30).sample(current, COUNTS_MISSING)}
        cursor.execute("DELETE FROM ledger_clean WHERE entry_no = ANY(%s)", (sorted(counts_missing),))
        del rows, current
        cursor.execute("VACUUM ANALYZE")
        print(f"  warehouse loaded and seeded in {time.perf_counter() - begin:.1f} s")
        base = {"conn": conn, "dsn": server.uri(), "samples": count, "limit": None}
        extract = measure(emulator, {"mode": "extract", "conn": conn, "root": scratch})
        full = measure(emulator, {**base, "mode": "reconcile", "strategy": "full", "table": "ledger"})
        small = measure(
            emulator, {**base, "mode": "reconcile", "strategy": "full", "table": "ledger", "limit": entries // 10}
        )
        counts = measure(emulator, {**base, "mode": "reconcile", "strategy": "counts", "table": "ledger_clean"})
    found_all, invented = judge(full["report"], seeded)
    counted = counts["report"]
    found_all &= counted["counts"]["missing"] == COUNTS_MISSING and set(counted["samples"]["missing"]) == counts_missing
    invented += sum(counted["counts"][kind] for kind in ("extra", "duplicate_business_central", "duplicate_warehouse"))
    for name, result in (("extract", extract), ("full", full), ("full N/10", small), ("counts", counts)):
        print(
            f"  {name:10} {result['seconds']:7.1f} s  {result['requests']:6,} requests "
            f"({result['http_requests']:,} HTTP)  peak RSS "
            f"{result['rss_mb']:6.1f} MB (before the run {result['rss_before_mb']:.1f})"
        )
    report = full["report"]
    print(f"  full found: {report['counts']}; gaps {report['gaps']}; rows {report['rows']}")
    print(f"  counts found: {counts['report']['counts']}")
    print(
        "RESULT "
        f"found_all={str(found_all).lower()} invented={invented} "
        f"time_vs_extract={full['seconds'] / extract['seconds']:.2f} rss_mb={full['rss_mb']:.1f} "
        f"rss_ratio={full['rss_mb'] / small['rss_mb']:.2f} counts_requests={counts['requests']} "
        f"counts_time_share={counts['seconds'] / full['seconds']:.3f}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]))
    else:
        main()
