"""The backfill DAG on a scaled-out Airflow: CeleryExecutor, Redis broker, two Celery workers.

``dags_examples/bc_backfill_item_ledger.py`` as users run it on more than one worker: Airflow's
CeleryExecutor (the celery provider) with Debian's ``redis-server`` as broker on loopback (a free
port, no persistence), two ``airflow celery worker --concurrency 4`` processes, the scheduler, the
DAG processor and the API server (the workers run tasks through its execution API), all started
here as subprocesses (each in its own process group, logs in the temporary folder) with a temporary
``AIRFLOW_HOME``, against the Business Central emulator. The metadata DB is SQLite (as the tests'
``prepare_airflow_home`` sets it), also the Celery result backend: Airflow 3 accepts it with the
CeleryExecutor (task code reaches the DB only through the API server; the workers write just Celery's
task results), and no database server is needed.

First a warm-up run of the small ``bc_fetch_item_ledger_entry`` DAG (a fresh API server takes
seconds over its first task), then the backfill twice with ``--partitions`` mapped extractions
(default 10), Parquet into a temporary ``file://`` lake: with the ``business_central`` pool at 5
slots, then at 1 slot. For each run: the time from the trigger to the run's success (the DAG run's
``queued_at`` to ``end_date``), the emulator's highest number of API requests in flight at once
(``max_in_flight``; reset before each run), and the ``id`` column of every Parquet file the run's
manifests list, compared with an id-only read of the collection. The emulator's log of the run's
requests is saved as ``requests-pool<n>.json`` in the temporary folder (``--keep`` keeps it); when a
run had more requests in flight than its pool has slots, the pairs of API requests answered less than
``--latency`` apart are printed (each waited that long before its answer, so such a pair overlapped;
the log's ``time`` is when the answer was ready, before its body was sent at ``--bandwidth``).

What it needs and lacks it installs first: ``redis-server`` with ``apt-get`` (as root; otherwise it
says what to install), ``apache-airflow-providers-celery``, ``redis`` and a Celery below 5.7 (the
provider's 3.26.0 does not import with Celery 5.7.0) into this interpreter's environment with uv,
else pip, Airflow kept at its installed version. About 4 to 5 minutes on 2 cores.

    python benchmarks/distributed_extract.py [--entries 200000] [--partitions 10] [--latency 0.2]
        [--bandwidth 2000000] [--keep]

Ends with ``RESULT max_in_flight=<n> rows_once=<true|false> max_in_flight_pool1=<n> speedup_vs_pool1=<x>``:
the pool-of-5 run's highest concurrency (at most 5 when the pool holds: each mapped extraction has
``max_streams=1``, ``pool_slots=1``, planning included), whether both runs wrote every entry exactly
once, the pool-of-1 run's highest concurrency (1 when the pool holds), and the pool-of-1 time over the
pool-of-5 time.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.metadata
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_bc.testing.airflow_processes import (
    AIRFLOW,
    Services,
    airflow_cli,
    airflow_env,
    database_url,
    free_port,
    start_airflow,
    wait_for,
    wait_for_run,
)

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags_examples"
DAG_ID = "bc_backfill_item_ledger"
WARM_UP_DAG_ID = "bc_fetch_item_ledger_entry"  # three small tasks: the first runs pay for cold paths
POOL = "business_central"
ENTITY_SET = "itemLedgerEntries"
WORKERS = 2
WORKER_CONCURRENCY = 4
START_TIMEOUT = 180.0
RUN_TIMEOUT = 1_800.0


# ----- what the benchmark needs, installed when missing -----


def ensure_redis_server() -> str:
    """Path of ``redis-server``; installs Debian's package with ``apt-get`` when missing (root only)."""
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if found:
        return found
    if os.name != "posix" or os.geteuid() != 0:
        raise SystemExit("redis-server is missing: install it (Debian: `sudo apt-get install -y redis-server`)")
    print("  installing redis-server (apt-get) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "redis-server"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if not found:
        raise SystemExit("apt-get installed redis-server but no redis-server binary is on PATH")
    return found


def celery_executor_imports(scratch: Path) -> bool:
    """Whether the CeleryExecutor and the ``redis`` client import here (checked in a child interpreter,
    with a throw-away ``AIRFLOW_HOME``)."""
    env = {**os.environ, "AIRFLOW_HOME": str(scratch / "import-check"), "PYTHONWARNINGS": "ignore"}
    code = "import redis, airflow.providers.celery.executors.celery_executor"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=False).returncode == 0


def ensure_celery_provider(scratch: Path) -> None:
    """Install ``apache-airflow-providers-celery``, ``redis`` and a Celery it works with into this
    environment unless the CeleryExecutor imports already."""
    if celery_executor_imports(scratch):
        return
    packages = [
        "apache-airflow-providers-celery",
        "redis",
        "celery[redis]>=5.5,<5.7",  # provider 3.26.0 imports celery.backends.database.retry, gone in Celery 5.7.0
        f"apache-airflow=={importlib.metadata.version('apache-airflow')}",  # never up- or downgraded
    ]
    print(f"  installing {', '.join(packages[:3])} ...", flush=True)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    command = [uv, "pip", "install", "--python", sys.executable] if uv else [sys.executable, "-m", "pip", "install"]
    subprocess.run([*command, "--quiet", *packages], check=True)
    if not celery_executor_imports(scratch):
        raise SystemExit("the CeleryExecutor still does not import after installing " + ", ".join(packages))


# ----- processes (the shared helpers: airflow_provider_bc.testing.airflow_processes) -----


def redis_answers(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:``port`` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


# ----- Airflow: configuration -----


def celery_airflow_env(home: Path, emulator: Any, redis_port: int, api_port: int) -> dict[str, str]:
    """The environment of every Airflow process (:func:`airflow_env`: home, DAG bundle and SQLite DB as
    the tests set them, the execution API's URL, one JWT secret for all, the emulator's connection, DAGs
    paused at creation: only the two run here get unpaused), with the CeleryExecutor, Redis as broker and
    the metadata DB as result backend."""
    env = airflow_env(
        home,
        DAGS,
        api_port=api_port,
        executor="CeleryExecutor",
        connections={"business_central_default": emulator.airflow_connection_env()},
    )
    env |= {
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{database_url(env)}",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",  # set: no warning per process
    }
    return env


def start_celery_airflow(services: Services, env: dict[str, str]) -> None:
    """Start the Celery workers, then the API server, scheduler and DAG processor; wait until each is up."""
    for number in range(1, WORKERS + 1):
        worker = [*AIRFLOW, "celery", "worker", "--concurrency", str(WORKER_CONCURRENCY)]
        worker += ["--celery-hostname", f"bench-worker-{number}@%h", "--skip-serve-logs"]
        services.start(f"worker-{number}", worker, env)
    start_airflow(services, env, dag_ids=[DAG_ID, WARM_UP_DAG_ID], report=say, timeout=START_TIMEOUT)
    for number in range(1, WORKERS + 1):
        name = f"worker-{number}"
        seconds = wait_for(name, functools.partial(services.logged, name, " ready."), services)
        say(f"Celery {name} ready after {seconds:.0f} s more")


def say(message: str) -> None:
    """A progress line."""
    print(f"  {message}", flush=True)


# ----- one run of the DAG -----


@dataclass
class RunResult:
    """What one DAG run gave."""

    slots: int
    seconds: float
    wall_seconds: float
    max_in_flight: int
    rows: int
    distinct: int
    lost: int
    unexpected: int
    #: pairs of API requests that were in flight at the same time, as far as the log shows (see :func:`overlaps`)
    overlapping: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    #: the time of the run's first logged request (for times relative to it)
    first_request: float = 0.0

    @property
    def rows_once(self) -> bool:
        """Every expected entry written, none twice, nothing else."""
        return self.rows == self.distinct and self.lost == 0 and self.unexpected == 0


def set_pool(env: dict[str, str], slots: int) -> None:
    """Create or resize the ``business_central`` pool."""
    airflow_cli(env, "pools", "set", POOL, str(slots), "Business Central API: requests at once per principal")


def written_ids(lake: Path, run_id: str) -> list[str]:
    """The ``id`` of every row in the Parquet files that the run's manifests list."""
    import pyarrow.parquet as pq

    ids: list[str] = []
    manifests = sorted(lake.glob(f"{ENTITY_SET}/company=*/{run_id}-map*/_manifest.json"))
    if not manifests:
        raise RuntimeError(f"no manifest of run {run_id} under {lake}")
    for path in manifests:
        manifest = json.loads(path.read_text())
        for entry in manifest["files"]:
            ids.extend(pq.read_table(path.parent / entry["name"], columns=["id"]).column("id").to_pylist())
    return ids


def warm_up(services: Services, env: dict[str, str]) -> float:
    """Run the small ``bc_fetch_item_ledger_entry`` DAG once, so that neither measured run pays for what
    a fresh API server, scheduler and worker do on their first task; its seconds."""
    airflow_cli(env, "dags", "unpause", WARM_UP_DAG_ID)
    airflow_cli(env, "dags", "trigger", WARM_UP_DAG_ID, "--run-id", "bench-warm-up")
    seconds, _ = wait_for_run(services, env, WARM_UP_DAG_ID, "bench-warm-up", RUN_TIMEOUT)
    return seconds


def tasks_per_worker(services: Services) -> dict[str, int]:
    """How many task workloads each Celery worker received (from its log)."""
    names = [name for name in services.processes if name.startswith("worker-")]
    return {name: services.log(name).count("Executing workload in Celery") for name in names}


def overlaps(requests: list[dict[str, Any]], latency: float) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs of Business Central API requests (Entra's token endpoint left out) of ``requests`` (the
    emulator's log) answered less than ``latency`` seconds apart: each was in flight for at least
    ``latency`` before its answer was ready (the log's ``time``), so the two were in flight at once."""
    from airflow_provider_bc.testing.emulator.routes import ENTRA_ROUTES

    api = sorted((r for r in requests if r["route"] not in ENTRA_ROUTES), key=lambda r: float(r["time"]))
    pairs = []
    for index, request in enumerate(api):
        for later in api[index + 1 :]:
            if float(later["time"]) - float(request["time"]) >= latency:
                break
            pairs.append((request, later))
    return pairs


def run_backfill(
    services: Services,
    env: dict[str, str],
    emulator: Any,
    scratch: Path,
    slots: int,
    partitions: int,
    expected: set[str],
    latency: float,
) -> RunResult:
    """Set the pool to ``slots``, trigger the backfill into a fresh lake, wait for it and check its rows."""
    set_pool(env, slots)
    emulator.reset()  # max_in_flight from zero, data kept
    lake = scratch / f"lake-pool{slots}"
    run_id = f"bench-pool{slots}"
    conf = json.dumps({"destination": lake.as_uri(), "partitions": partitions})
    begin = time.monotonic()
    airflow_cli(env, "dags", "trigger", DAG_ID, "--run-id", run_id, "--conf", conf)
    seconds, observed = wait_for_run(services, env, DAG_ID, run_id, RUN_TIMEOUT)
    stats = emulator.stats()
    max_in_flight = int(stats["max_in_flight"])
    requests = list(stats["recent_requests"])  # the most recent 1,000: a run of the defaults makes about 100
    (scratch / f"requests-pool{slots}.json").write_text(json.dumps(requests, indent=1))
    ids = written_ids(lake, run_id)
    distinct = set(ids)
    return RunResult(
        slots=slots,
        seconds=seconds,
        wall_seconds=observed - begin,
        max_in_flight=max_in_flight,
        rows=len(ids),
        distinct=len(distinct),
        lost=len(expected - distinct),
        unexpected=len(distinct - expected),
        overlapping=overlaps(requests, latency) if max_in_flight > slots else [],
        first_request=min((float(r["time"]) for r in requests), default=0.0),
    )


def expected_ids(emulator: Any) -> set[str]:
    """Every entry's id, by an id-only read with the emulator's bandwidth and latency lifted."""
    from airflow_provider_bc.client.client import BusinessCentralClient
    from airflow_provider_bc.client.settings import ClientSettings

    settings = ClientSettings(
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        tenant_id=emulator.tenant_id,
        company_id=emulator.default_company_id,
        api_host=emulator.base_url,
        authority=emulator.authority,
        verify=emulator.ca_bundle,
    )
    logging.getLogger("airflow_provider_bc").setLevel(logging.WARNING)  # no line per page here
    emulator.configure(bandwidth=0, latency=0)
    client = BusinessCentralClient(settings)
    try:
        return {row["id"] for row in client.iter_entities(ENTITY_SET, select=["id"], page_size=5_000)}
    finally:
        client.close()
        emulator.reset()  # back to the start configuration


def report(result: RunResult) -> None:
    """One run's line of the summary."""
    print(
        f"  pool of {result.slots}: {result.seconds:6.1f} s trigger to success ({result.wall_seconds:.1f} s seen "
        f"from here, CLI start-up included); max_in_flight={result.max_in_flight}; {result.rows:,} rows, "
        f"{result.distinct:,} distinct, {result.lost:,} lost, {result.unexpected:,} unexpected",
        flush=True,
    )
    if result.max_in_flight > result.slots:
        print(
            f"    more in flight than the pool's {result.slots} slots; API requests answered less than the latency "
            f"apart ({len(result.overlapping)} pairs; s after the run's first request, route, status, connection, "
            "path):"
        )
        for pair in result.overlapping[:10]:
            for request in pair:
                print(
                    f"      {float(request['time']) - result.first_request:8.3f} {request['route']:<24} "
                    f"{request['status']} {request['connection']:<21} {request['path'][:110]}"
                )
            print("      --")


@contextlib.contextmanager
def scratch_dir(keep: bool) -> Iterator[Path]:
    """A temporary folder, removed afterwards unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix="bc-distributed-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"  kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def exit_on_signals() -> None:
    """Make SIGTERM, SIGHUP and SIGINT (which background jobs ignore) end the script through its
    ``finally`` blocks, so that everything it started is stopped; further signals are ignored then."""
    signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

    def leave(signum: int, frame: object) -> None:
        for each in signals:
            signal.signal(each, signal.SIG_IGN)
        raise SystemExit(f"stopped by signal {signum}")

    for each in signals:
        signal.signal(each, leave)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=200_000, help="item ledger entries in the emulator")
    parser.add_argument("--partitions", type=int, default=10, help="mapped extraction tasks (the DAG's param)")
    parser.add_argument("--latency", type=float, default=0.2, help="emulator seconds added per request")
    parser.add_argument("--bandwidth", type=int, default=2_000_000, help="emulator bytes/s per answer")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, lake, DB)")
    return parser.parse_args()


def start_redis(services: Services, redis_server: str, scratch: Path) -> int:
    """Start ``redis-server`` on a free loopback port, without persistence; its port once it answers."""
    port = free_port()
    command = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(scratch), "--daemonize", "no"]
    services.start("redis", command, dict(os.environ))
    wait_for("redis-server", lambda: redis_answers(port), services)
    return port


def run_both(args: argparse.Namespace, scratch: Path, redis_server: str) -> tuple[RunResult, RunResult]:
    """Emulator, Redis and Airflow up; the backfill with a pool of 5, then of 1; everything stopped after."""
    from airflow_provider_bc.testing.emulator import EmulatorHandle

    timeout = max(120.0, args.entries / 2_000)
    with EmulatorHandle.start(
        entries=args.entries, latency=args.latency, bandwidth=args.bandwidth, timeout=timeout
    ) as emulator:
        logs = scratch / "logs"
        logs.mkdir()
        services = Services(logs)
        try:
            expected = expected_ids(emulator)
            print(f"  emulator ready, {len(expected):,} ids read", flush=True)
            redis_port, api_port = start_redis(services, redis_server, scratch), free_port()
            env = celery_airflow_env(scratch / "airflow", emulator, redis_port, api_port)
            airflow_cli(env, "db", "migrate")
            print(f"  redis on port {redis_port}, metadata DB migrated; starting Airflow", flush=True)
            start_celery_airflow(services, env)
            print(f"  warm-up run of {WARM_UP_DAG_ID}: {warm_up(services, env):.1f} s", flush=True)
            airflow_cli(env, "dags", "unpause", DAG_ID)
            pool5 = run_backfill(services, env, emulator, scratch, 5, args.partitions, expected, args.latency)
            report(pool5)
            pool1 = run_backfill(services, env, emulator, scratch, 1, args.partitions, expected, args.latency)
            report(pool1)
            counts = ", ".join(f"{name} {count}" for name, count in tasks_per_worker(services).items())
            print(f"  tasks per Celery worker (warm-up included): {counts}", flush=True)
            return pool5, pool1
        except Exception:  # not on a signal or Ctrl-C: then the logs are not the story
            services.show_logs()
            raise
        finally:
            services.stop()


def main() -> None:
    args = parse_args()
    exit_on_signals()
    started = time.monotonic()
    print(
        f"Backfill DAG on CeleryExecutor ({WORKERS} workers x {WORKER_CONCURRENCY}): {args.entries:,} entries, "
        f"{args.partitions} partitions, emulator at {args.bandwidth:,} B/s per answer and {args.latency} s latency; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    redis_server = ensure_redis_server()
    with scratch_dir(args.keep) as scratch:
        ensure_celery_provider(scratch)
        pool5, pool1 = run_both(args, scratch, redis_server)

    speedup = pool1.seconds / pool5.seconds
    rows_once = pool5.rows_once and pool1.rows_once
    print(f"  speedup of the pool of 5 over the pool of 1: {speedup:.2f}x")
    print(f"  total {time.monotonic() - started:.0f} s (installs, emulator, Airflow start-up, both runs)")
    print(
        f"RESULT max_in_flight={pool5.max_in_flight} rows_once={str(rows_once).lower()} "
        f"max_in_flight_pool1={pool1.max_in_flight} speedup_vs_pool1={speedup:.2f}"
    )


if __name__ == "__main__":
    main()
