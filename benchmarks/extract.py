"""Bulk extraction of item ledger entries against sequential paging and a raw 5-stream ``requests`` loop.

One emulator (``--bandwidth 2000000 --latency 0.2`` by default: about what Business Central gives one
call) holds ``--entries`` entries (default 1,000,000). Side by side in one run, each in a fresh
interpreter so that every peak RSS is its own (read inside the child, imports included: ``VmHWM``, as
``ru_maxrss`` of a child on Linux includes its parent's peak):

* ``seq``: one client following nextLinks at 5,000 a page over the whole collection, rows counted;
* ``raw5``: plain ``requests``, 5 threads with a session each, one token from the token endpoint, the
  entry-number span cut in 5 ranges, each read by nextLink at ``odata.maxpagesize=5000`` with the same
  ``$filter``/``$orderby`` shape the extraction sends; every page JSON-parsed and dropped, nothing written;
* the extraction (5 streams, 5,000 a page, cursor ``entry_number``: each run the first of its series,
  reading everything, its settled mark and open range kept) into a temporary ``file://`` folder, NDJSON
  (gzip) and Parquet, of all N entries and of the first N/10 (``$filter=entryNumber le N/10``), in a
  child that does not import Airflow (``engine``: the destination a ``upath.UPath``, the code the
  operator runs), and of all N with Airflow loaded (``airflow``: the destination an
  ``ObjectStoragePath``, as the operator has it). pyarrow is loaded by the Parquet run itself, as in
  the operator's task.
* an incremental cycle: just before the timed run (the first format's, at N with Airflow loaded), P =
  max(1, N // 200) entries are posted (``reserve_entries`` + ``commit_entries``: one bulk insert,
  stamped now), so that the run leaves them in its open range (stamped within ``commit_lag``, 15
  minutes, of its plan); then P entries more, and the next ``entry_number`` run into the same folder
  (the engine alone): it reads the open range again, skips the rows delivered, and must write exactly
  the P new entries. ``reread_share`` = (its ``rows_read`` − its ``rows``) ÷ (the first run's
  ``rows_read`` + its ``rows_read``): the share of the cycle's rows read, so of its page requests,
  spent re-reading the open range (about P / (N + 3P), 0.005). The later runs at N read those 2P
  entries too.

Every run's files are read back (gzip NDJSON line by line, Parquet's ``id`` column) and their ids compared
with an id-only read of the collection (``iter_entities(select=...)``, bandwidth and latency lifted for it)
and the entries posted since: lost = expected ids missing, duplicated = rows less distinct ids; the worst
run counts, the incremental cycle's two runs together counting as one run (every entry once).

    python benchmarks/extract.py [--entries 1000000] [--formats ndjson,parquet] [--skip-seq] [--repeat 1]
        [--cursor entry_number|full]

``--cursor full`` runs the extractions without a cursor, to compare the two side by side: the same
entries are posted, but no incremental run follows (``reread_share=nan``).

Ends with ``RESULT speedup_vs_seq=<x> vs_raw5=<x> rss_mb=<peak at N, worst format> rss_ratio=<N vs N/10>
lost=<n> duplicated=<n> max_in_flight=<n> rss_growth_mb=<x> rss_airflow_mb=<x> reread_share=<x>``.
``speedup_vs_seq`` and ``vs_raw5`` time the first format's run at N with Airflow loaded (the operator's
process), as rows per second over rows per second (the time ratio at equal rows: that run reads the P
posted entries too, ``seq`` and ``raw5`` read N; with them each of its 20 key ranges ends on a short page,
about 20 requests more than at N exactly). ``rss_mb``,
``rss_ratio`` and ``rss_growth_mb`` (the peak less the RSS just before the run) are the engine's, the
worst format; ``rss_airflow_mb`` is the peak at N with Airflow loaded (Airflow's SDK alone holds about
120 MB). Each run's peak and the RSS before it are printed per format. MB are 10^6 bytes;
``max_in_flight`` is the emulator's highest number of API requests in flight at once during the
extraction runs (the cycle's next run included).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENTITY_SET = "itemLedgerEntries"
PAGE_SIZE = 5_000
STREAMS = 5
TARGET_SEQ, TARGET_RAW, TARGET_RSS_MB, TARGET_RSS_RATIO, TARGET_REREAD = 4.5, 0.9, 150.0, 1.2, 0.03


# ----- the measured runs, each in a child interpreter -----


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB: ``VmHWM`` of ``/proc/self/status`` on Linux.

    Not ``ru_maxrss``: Linux carries the parent's peak across ``fork``/``exec`` into the child's
    ``ru_maxrss``, so a child of a parent holding a million ids would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def inherited_rss_mb() -> float:
    """``ru_maxrss`` in MB, for comparison (includes the parent's peak at the time of the fork)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def emulator_conn(emulator: Any) -> dict[str, Any]:
    """What a child process needs to reach ``emulator`` (JSON)."""
    return {
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "tenant_id": emulator.tenant_id,
        "company_id": emulator.default_company_id,
        "base_url": emulator.base_url,
        "authority": emulator.authority,
        "ca_bundle": emulator.ca_bundle,
        "api_url": emulator.api_url(),
    }


def client_settings(conn: dict[str, Any]) -> Any:
    from airflow_provider_bc.client.settings import ClientSettings

    return ClientSettings(
        client_id=conn["client_id"],
        client_secret=conn["client_secret"],
        tenant_id=conn["tenant_id"],
        company_id=conn["company_id"],
        api_host=conn["base_url"],
        authority=conn["authority"],
        verify=conn["ca_bundle"],
    )


def run_seq(conn: dict[str, Any]) -> dict[str, Any]:
    """One client, nextLink paging at 5,000 a page over the whole collection; rows counted."""
    from airflow_provider_bc.client.client import BusinessCentralClient

    settings = client_settings(conn)
    rss_before = peak_rss_mb()
    begin = time.perf_counter()
    client = BusinessCentralClient(settings)
    rows = pages = 0
    try:
        for page in client.iter_pages(ENTITY_SET, company_id=conn["company_id"], page_size=PAGE_SIZE):
            rows += len(page.entities)
            pages += 1
    finally:
        client.close()
    return {"seconds": time.perf_counter() - begin, "rows": rows, "pages": pages, "rss_before_mb": rss_before}


def run_raw5(conn: dict[str, Any]) -> dict[str, Any]:
    """Plain ``requests``: 5 threads, a session each, 5 entry-number ranges read by nextLink; nothing written."""
    import requests

    rss_before = peak_rss_mb()
    begin = time.perf_counter()
    verify = conn["ca_bundle"]
    answer = requests.post(
        f"{conn['authority']}/{conn['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": conn["client_id"],
            "client_secret": conn["client_secret"],
            "scope": "https://api.businesscentral.dynamics.com/.default",
        },
        verify=verify,
        timeout=30,
    )
    answer.raise_for_status()
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}", "Accept": "application/json"}
    url = f"{conn['api_url']}/companies({conn['company_id']})/{ENTITY_SET}"

    def edge(direction: str) -> int:
        params = {"$top": "1", "$orderby": f"entryNumber {direction}", "$select": "entryNumber"}
        response = requests.get(url, params=params, headers=headers, verify=verify, timeout=120)
        response.raise_for_status()
        return int(response.json()["value"][0]["entryNumber"])

    first, last = edge("asc"), edge("desc")
    bounds = [first + (last - first + 1) * i // STREAMS for i in range(STREAMS + 1)]
    counts = [0] * STREAMS
    pages = [0] * STREAMS
    errors: list[BaseException] = []

    def read(index: int) -> None:
        low, high = bounds[index], bounds[index + 1]
        page_headers = {**headers, "Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
        params: dict[str, str] | None = {
            "$filter": f"entryNumber ge {low} and entryNumber lt {high}",
            "$orderby": "entryNumber",
        }
        try:
            with requests.Session() as session:
                next_url: str | None = url
                while next_url:
                    response = session.get(next_url, params=params, headers=page_headers, verify=verify, timeout=120)
                    response.raise_for_status()
                    payload = json.loads(response.content)
                    counts[index] += len(payload["value"])
                    pages[index] += 1
                    next_url, params = payload.get("@odata.nextLink"), None
                    del payload, response
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(STREAMS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    seconds = time.perf_counter() - begin
    return {"seconds": seconds, "rows": sum(counts), "pages": sum(pages), "rss_before_mb": rss_before}


def run_extract(
    conn: dict[str, Any],
    output_format: str,
    filter: str | None,
    root: str,
    run_name: str,
    airflow: bool,
    cursor: str,
) -> dict[str, Any]:
    """The extraction, 5 streams at 5,000 a page, into ``root`` (a local folder, as ``file://``): with
    Airflow loaded (``ObjectStoragePath``), or without (``upath.UPath``, what ``ObjectStoragePath`` derives from).
    ``cursor`` is the spec's cursor kind (the default commit_lag); an ``entry_number`` run continues from
    a committed run of its series in ``root``, if any."""
    import logging

    if airflow:
        from airflow.providers.common.compat.sdk import ObjectStoragePath as Destination
    else:
        from upath import UPath as Destination

    from airflow_provider_bc.client.client import BusinessCentralClient
    from airflow_provider_bc.extraction.cursors import CursorOptions
    from airflow_provider_bc.extraction.run import Extraction, ExtractionSpec

    logging.basicConfig(level=logging.WARNING)
    settings = client_settings(conn)
    spec = ExtractionSpec(
        entity_set=ENTITY_SET,
        company_id=conn["company_id"],
        run_name=run_name,
        filter=filter,
        output_format=output_format,  # type: ignore[arg-type]
        page_size=PAGE_SIZE,
        max_streams=STREAMS,
        cursor=CursorOptions(kind=cursor),  # type: ignore[arg-type]
    )
    rss_before = peak_rss_mb()
    begin = time.perf_counter()
    extraction = Extraction(spec, Destination(Path(root).as_uri()), lambda: BusinessCentralClient(settings))
    manifest = extraction.run()
    seconds = time.perf_counter() - begin
    return {
        "seconds": seconds,
        "rows": manifest["rows"],
        "rows_read": manifest["rows_read"],
        "settled": manifest["cursor"].get("settled"),
        "open_rows": len(manifest["cursor"].get("open_rows") or []),
        "based_on": manifest.get("based_on"),
        "files": [f["name"] for f in manifest["files"]],
        "bytes": manifest["bytes"],
        "folder": str(extraction.folder).removeprefix("file://"),
        "rss_before_mb": rss_before,
        "airflow_loaded": "airflow" in sys.modules,
    }


def child(request: dict[str, Any]) -> None:
    """Run one measurement and print its result as the last line of stdout (JSON)."""
    conn, mode = request["conn"], request["mode"]
    if mode == "seq":
        result = run_seq(conn)
    elif mode == "raw5":
        result = run_raw5(conn)
    else:
        result = run_extract(
            conn,
            request["format"],
            request["filter"],
            request["root"],
            request["run_name"],
            request["airflow"],
            request["cursor"],
        )
    result |= {"rss_mb": peak_rss_mb(), "ru_maxrss_mb": inherited_rss_mb(), "cpu_s": cpu_seconds()}
    print(json.dumps(result))


# ----- the parent: emulator, children, read-back, report -----


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of process ``pid`` so far (Linux ``/proc``), else ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float | None:
    """CPU seconds all processes of the machine spent so far (Linux ``/proc/stat``), else ``None``."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measure(emulator: Any, conn: dict[str, Any], mode: str, **options: Any) -> dict[str, Any]:
    """Run ``mode`` in a fresh interpreter; its result, with the emulator's counters of the run."""
    emulator.reset()  # counters and max_in_flight from zero (data kept)
    request = {"conn": conn, "mode": mode, **options}
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cpu_before, busy_before = process_cpu(emulator.process.pid), machine_busy()
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(request)], capture_output=True, text=True, check=False, env=env
    )
    cpu_after, busy_after = process_cpu(emulator.process.pid), machine_busy()
    if out.returncode:
        raise SystemExit(f"{mode} {options.get('format', '')} failed:\n{out.stderr[-4000:]}")
    result = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    stats = emulator.stats()
    result["max_in_flight"] = stats["max_in_flight"]
    result["requests"] = stats["total_requests"]
    result["emulator_cpu_s"] = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    if result["emulator_cpu_s"] is not None and busy_before is not None and busy_after is not None:
        # what the rest of the machine took meanwhile (the child's start-up and imports are in cpu_s too)
        result["other_cpu_s"] = busy_after - busy_before - result["emulator_cpu_s"] - result["cpu_s"]
    return result


def expected_ids(emulator: Any, conn: dict[str, Any]) -> dict[str, int]:
    """Every entry's id and entry number, by an id-only read with bandwidth and latency lifted."""
    from airflow_provider_bc.client.client import BusinessCentralClient

    emulator.configure(bandwidth=0, latency=0)
    client = BusinessCentralClient(client_settings(conn))
    try:
        return {
            row["id"]: row["entryNumber"]
            for row in client.iter_entities(
                ENTITY_SET, company_id=conn["company_id"], select=["id", "entryNumber"], page_size=20_000
            )
        }
    finally:
        client.close()
        emulator.reset()  # back to the start configuration


def written_ids(result: dict[str, Any], output_format: str) -> list[str]:
    """The ids in a run's files, one per row written."""
    folder = Path(result["folder"])
    ids: list[str] = []
    for name in result["files"]:
        if output_format == "parquet":
            import pyarrow.parquet as pq

            ids.extend(pq.read_table(folder / name, columns=["id"]).column("id").to_pylist())
        else:
            opener = gzip.open if name.endswith(".gz") else open
            with opener(folder / name, "rb") as lines:
                ids.extend(json.loads(line)["id"] for line in lines)
    return ids


def check(ids: list[str], expected: set[str]) -> dict[str, int]:
    distinct = set(ids)
    return {
        "lost": len(expected - distinct),
        "duplicated": len(ids) - len(distinct),
        "unexpected": len(distinct - expected),
    }


def post_entries(emulator: Any, count: int) -> dict[str, int]:
    """``count`` entries posted now, in one posting (reserved, then committed: a bulk insert stamped now,
    so within ``commit_lag`` of a run planned soon after); their ids and entry numbers."""
    reserved = emulator.reserve_entries(count=count)
    committed = emulator.commit_entries([entry["id"] for entry in reserved])
    return {entry["id"]: entry["entryNumber"] for entry in committed}


def incremental_cycle(
    emulator: Any,
    conn: dict[str, Any],
    first: dict[str, Any],
    first_ids: list[str],
    numbers: dict[str, int],
    posted: int,
    output_format: str,
    root: str,
) -> dict[str, Any]:
    """After ``first`` (an ``entry_number`` run into ``root`` whose newest ``posted`` entries were
    recent), ``posted`` entries more, then the next ``entry_number`` run into ``root`` (the engine
    alone): it re-reads the first run's open range and must write exactly the new entries.

    ``numbers`` (every entry's id and number) gets the new entries. Returns the next run's result with
    ``reread_share`` (its rows read again over the cycle's rows read), ``new_*`` (its ids against the new
    entries: ``new_unexpected`` counts rows delivered twice in the cycle) and ``lost``/``duplicated``/
    ``unexpected`` of both runs' ids together against every entry."""
    new = post_entries(emulator, posted)
    numbers.update(new)
    second = measure(
        emulator,
        conn,
        "extract",
        format=output_format,
        filter=None,
        root=root,
        run_name=f"{first['run_name']}-next",
        airflow=False,
        cursor="entry_number",
    )
    second_ids = written_ids(second, output_format)
    second |= check(first_ids + second_ids, set(numbers))
    second |= {f"new_{key}": value for key, value in check(second_ids, set(new)).items()}
    second["reread_share"] = (second["rows_read"] - second["rows"]) / (first["rows_read"] + second["rows_read"])
    second["first"] = first
    return second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000, help="item ledger entries (N)")
    parser.add_argument("--bandwidth", type=int, default=2_000_000, help="emulator bytes/s per answer")
    parser.add_argument("--latency", type=float, default=0.2, help="emulator seconds added per request")
    parser.add_argument("--formats", default="ndjson,parquet", help="output formats to extract")
    parser.add_argument("--skip-seq", action="store_true", help="no sequential read (no speedup_vs_seq)")
    parser.add_argument("--repeat", type=int, default=1, help="raw5 and extractions at N run this often (best)")
    parser.add_argument(
        "--cursor",
        choices=("entry_number", "full"),
        default="entry_number",
        help="the extraction runs' cursor (full: no incremental cycle, reread_share=nan)",
    )
    args = parser.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    entries, small = args.entries, args.entries // 10
    posted = max(1, entries // 200)  # P: entries posted before the timed run, and again before the next run
    lead = f"{formats[0]} N +airflow"  # the timed run; with the entry_number cursor, the cycle's first run

    from airflow_provider_bc.testing.emulator import EmulatorHandle

    print(
        f"Extraction of {entries:,} item ledger entries, emulator at {args.bandwidth:,} B/s per answer and "
        f"{args.latency} s latency, {PAGE_SIZE:,} a page, {STREAMS} streams, cursor {args.cursor}; "
        f"{os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    started = time.perf_counter()
    with (
        EmulatorHandle.start(
            entries=entries, bandwidth=args.bandwidth, latency=args.latency, timeout=max(120.0, entries / 2_000)
        ) as emulator,
        tempfile.TemporaryDirectory(prefix="bc-extract-bench-") as scratch,
    ):
        print(f"  emulator ready in {time.perf_counter() - started:.1f} s")
        conn = emulator_conn(emulator)
        begin = time.perf_counter()
        numbers = expected_ids(emulator, conn)
        expected_small = {i for i, n in numbers.items() if n <= small}
        print(
            f"  id-only read (no bandwidth limit): {len(numbers):,} ids in {time.perf_counter() - begin:.1f} s; "
            f"{len(expected_small):,} with entryNumber <= {small:,}"
        )
        if len(numbers) < entries:
            raise SystemExit(f"the emulator holds {len(numbers):,} entries, not {entries:,}")

        results: dict[str, dict[str, Any]] = {}
        checks: dict[str, dict[str, Any]] = {}
        cycle: dict[str, Any] | None = None

        def record(name: str, result: dict[str, Any], rows: int) -> None:
            """Keep the fastest run of ``name`` (with every run's time, and the worst RSS and concurrency)."""
            if result["rows"] != rows:
                print(f"  WARNING: {name} read {result['rows']:,} rows, not {rows:,}")
            if result.get("airflow_loaded", "+airflow" in name) != ("+airflow" in name):
                print(f"  WARNING: {name} ran with Airflow {'' if result['airflow_loaded'] else 'not '}loaded")
            earlier = results.get(name)
            kept = result if earlier is None or result["seconds"] < earlier["seconds"] else earlier
            if earlier is not None:
                kept["rss_mb"] = max(earlier["rss_mb"], result["rss_mb"])
                kept["max_in_flight"] = max(earlier["max_in_flight"], result["max_in_flight"])
            kept["runs"] = [*(earlier["runs"] if earlier else []), result["seconds"]]
            results[name] = kept
            print(
                f"  {name:<18} {result['seconds']:7.1f} s  {result['rows']:>10,} rows  "
                f"peak RSS {result['rss_mb']:6.1f} MB",
                flush=True,
            )

        if not args.skip_seq:
            record("seq", measure(emulator, conn, "seq"), len(numbers))
        for repeat in range(args.repeat):
            record("raw5", measure(emulator, conn, "raw5"), len(numbers))
            for output_format in formats:
                # the timed run (Airflow loaded, as in the operator's task), then the engine alone at N and N/10
                kinds = [("N +airflow", None, True), ("N", None, False), ("N/10", small, False)]
                for label, limit, airflow in kinds[: 2 if repeat else 3]:
                    name = f"{output_format} {label}"
                    root = Path(scratch, f"{output_format}-{len(checks)}")
                    # P entries posted before the timed run and P after it, whatever the cursor (the same
                    # data for --cursor full): the ledger's newest entries recent, in the run's open range
                    starts_cycle = repeat == 0 and name == lead
                    if starts_cycle:
                        numbers.update(post_entries(emulator, posted))
                    result = measure(
                        emulator,
                        conn,
                        "extract",
                        format=output_format,
                        filter=None if limit is None else f"entryNumber le {limit}",
                        root=str(root),
                        run_name=f"bench-{repeat}",
                        airflow=airflow,
                        cursor=args.cursor,
                    )
                    result["run_name"] = f"bench-{repeat}"
                    want = set(numbers) if limit is None else expected_small
                    ids = written_ids(result, output_format)
                    result |= check(ids, want)
                    checks[f"{name} #{repeat}"] = result
                    record(name, result, len(want))
                    if starts_cycle and args.cursor != "entry_number":
                        numbers.update(post_entries(emulator, posted))
                    elif starts_cycle:
                        cycle = incremental_cycle(
                            emulator, conn, result, ids, numbers, posted, output_format, str(root)
                        )
                        checks["incremental cycle"] = cycle
                        print(
                            f"  {'next (' + output_format + ')':<18} {cycle['seconds']:7.1f} s  "
                            f"{cycle['rows']:>10,} rows written of {cycle['rows_read']:,} read",
                            flush=True,
                        )
                    del ids
                    shutil.rmtree(root, ignore_errors=True)

    # ----- report -----
    print(f"  load average now {os.getloadavg()[0]:.2f} (other work on the machine slows the CPU-bound runs most)")
    print()
    print(
        f"{'run':<18} {'time s':>8} {'rows':>10} {'rows/s':>9} {'pages':>6} {'reqs':>5} {'in flight':>9} "
        f"{'RSS MB':>7} {'start':>6} {'growth':>6} {'CPU s':>6} {'emu CPU':>7} {'others':>6}  lost dup  runs"
    )
    for name, r in results.items():
        emu = f"{r['emulator_cpu_s']:.1f}" if r.get("emulator_cpu_s") is not None else "?"
        others = f"{r['other_cpu_s']:.1f}" if r.get("other_cpu_s") is not None else "?"
        pages_text = f"{r['pages']:>6}" if "pages" in r else f"{len(r['files']):>5}f"
        runs_text = ", ".join(f"{s:.1f}" for s in r["runs"])
        print(
            f"{name:<18} {r['seconds']:8.1f} {r['rows']:>10,} {r['rows'] / r['seconds']:>9,.0f} {pages_text} "
            f"{r['requests']:>5} {r['max_in_flight']:>9} {r['rss_mb']:7.1f} {r['rss_before_mb']:6.1f} "
            f"{r['rss_mb'] - r['rss_before_mb']:6.1f} "
            f"{r['cpu_s']:6.1f} {emu:>7} {others:>6}  {r.get('lost', '-')!s:>4} {r.get('duplicated', '-')!s:>3}  "
            f"{runs_text}"
        )
    # rows per second against rows per second: the time ratio at equal rows (the extractions at N read
    # the P or 2P entries posted for the incremental cycle too, seq and raw5 read N)
    speedup = rate(results[lead]) / rate(results["seq"]) if "seq" in results else float("nan")
    vs_raw = rate(results[lead]) / rate(results["raw5"])

    def worst(key: Callable[[str], float]) -> float:
        return max(key(f) for f in formats)

    rss_mb = worst(lambda f: results[f"{f} N"]["rss_mb"])
    rss_ratio = worst(lambda f: results[f"{f} N"]["rss_mb"] / results[f"{f} N/10"]["rss_mb"])
    # what the extraction itself adds to the process (the client, and Airflow or not, imported before)
    growth_mb = worst(lambda f: results[f"{f} N"]["rss_mb"] - results[f"{f} N"]["rss_before_mb"])
    rss_airflow_mb = worst(lambda f: results[f"{f} N +airflow"]["rss_mb"])
    lost = max(c["lost"] for c in checks.values())
    duplicated = max(c["duplicated"] for c in checks.values())
    unexpected = max(c["unexpected"] for c in checks.values())
    in_flight = max(r["max_in_flight"] for name, r in results.items() if name not in ("seq", "raw5"))
    in_flight = max(in_flight, cycle["max_in_flight"] if cycle else 0)
    reread_share = cycle["reread_share"] if cycle else float("nan")
    print()
    print(f"speedup vs sequential ({lead}, rows/s): {speedup:.2f}x (target >= {TARGET_SEQ})")
    print(f"vs raw 5-stream requests loop: {vs_raw:.2f}x (target >= {TARGET_RAW})")
    for f in formats:
        engine, tenth, airflow = (results[f"{f} {label}"] for label in ("N", "N/10", "N +airflow"))
        print(
            f"{f}: {airflow['seconds']:.1f} s with Airflow ({vs_raw_of(results, f):.2f}x raw5), "
            f"{engine['seconds']:.1f} s without; peak RSS without Airflow {engine['rss_mb']:.1f} MB at N "
            f"(target <= {TARGET_RSS_MB:.0f}; {engine['rss_before_mb']:.1f} before the run), "
            f"{tenth['rss_mb']:.1f} MB at N/10, ratio {engine['rss_mb'] / tenth['rss_mb']:.2f} "
            f"(target <= {TARGET_RSS_RATIO}); with Airflow {airflow['rss_mb']:.1f} MB at N "
            f"({airflow['rss_before_mb']:.1f} before the run)"
        )
    if cycle:
        first = cycle["first"]
        print(
            f"incremental cycle ({lead}, entry_number): the first run read {first['rows_read']:,} rows, settled "
            f"{first['settled']}, {first['open_rows']:,} rows in its open range ({posted:,} posted just before); "
            f"{posted:,} posted after it; the next run (based on {cycle['based_on']}) read {cycle['rows_read']:,} "
            f"rows in {cycle['seconds']:.1f} s and wrote {cycle['rows']:,}: of the {posted:,} new, "
            f"lost {cycle['new_lost']}, {cycle['new_unexpected']} others written again; "
            f"reread_share {reread_share:.4f} (target <= {TARGET_REREAD})"
        )
        if first["open_rows"] != posted or cycle["rows"] != posted or cycle["based_on"] != first["run_name"]:
            print("  WARNING: the cycle is not as planned (first run's open range, next run's rows or its base differ)")
    print(
        f"ids: lost {lost}, duplicated {duplicated}, not expected {unexpected} (worst run, the cycle's two runs "
        f"together counting as one); max in flight {in_flight}"
    )
    print(
        f"RESULT speedup_vs_seq={speedup:.2f} vs_raw5={vs_raw:.2f} rss_mb={rss_mb:.1f} rss_ratio={rss_ratio:.2f} "
        f"lost={lost} duplicated={duplicated} max_in_flight={in_flight} rss_growth_mb={growth_mb:.1f} "
        f"rss_airflow_mb={rss_airflow_mb:.1f} reread_share={reread_share:.4f}"
    )


def rate(result: dict[str, Any]) -> float:
    """Rows per second of a run."""
    return float(result["rows"] / result["seconds"])


def vs_raw_of(results: dict[str, dict[str, Any]], output_format: str) -> float:
    return rate(results[f"{output_format} N +airflow"]) / rate(results["raw5"])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(json.loads(sys.argv[2]))
    else:
        main()
