"""Run a real Airflow 3 as processes, for tests and benchmarks: the API server, scheduler, DAG
processor and triggerer (and whatever else, e.g. Celery workers) as subprocesses of a temporary
``AIRFLOW_HOME``, each in its own process group with its log in a folder; the ``airflow`` CLI; and
read-only queries of the metadata DB that import no Airflow.

A typical run::

    services = Services(tmp / "logs")
    env = airflow_env(tmp / "airflow", dag_folder, api_port=free_port(),
                      connections={"business_central_default": emulator.airflow_connection_env()})
    airflow_cli(env, "db", "migrate")
    try:
        start_airflow(services, env, dag_ids=["my_dag"], triggerer=True)
        ...
        services.kill("triggerer")  # SIGKILL, process group included
        start_triggerer(services, env)
    finally:
        services.stop()

Only the standard library (and SQLAlchemy, which Airflow brings, for :func:`query`); nothing of the
provider or the emulator: callers hand in the connections they want (e.g. the emulator's).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from airflow_provider_bc.testing.airflow_runs import prepare_airflow_home

#: seconds a service may take to be ready
START_TIMEOUT = 180.0
#: the ``airflow`` command of this interpreter
AIRFLOW = (sys.executable, "-m", "airflow")

Report = Callable[[str], None]


def _quiet(message: str) -> None:
    """A :data:`Report` that says nothing."""


# ----- processes -----


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signal_group(pid: int, signum: signal.Signals) -> None:
    """Send ``signum`` to process group ``pid`` (the session :meth:`Services.start` created), if any is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


@dataclass
class Services:
    """Long-running subprocesses by name, each in its own session (process group), logging to
    ``logs/<name>.log`` (a service started again under its name appends to it)."""

    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _files: list[IO[bytes]] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Start ``command`` as ``name`` with stdout and stderr into ``logs/<name>.log``."""
        if name in self.processes and self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is running already (pid {self.processes[name].pid})")
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{name}.log").open("ab")
        self._files.append(log)
        process = subprocess.Popen(  # noqa: S603 (commands of the caller)
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        """What ``name`` logged so far."""
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logged(self, name: str, text: str) -> bool:
        """Whether ``name`` logged ``text`` so far."""
        return text in self.log(name)

    def check_alive(self) -> None:
        """Raise if any service has ended (one ended by :meth:`kill` is no longer a service)."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} ended with code {process.returncode}:\n{self.log(name)[-3000:]}")

    def kill(self, name: str, signum: signal.Signals = signal.SIGKILL, timeout: float = 20.0) -> int:
        """Send ``signum`` to ``name``'s process group (SIGKILL: no clean-up, as a lost machine), wait for
        it to end and forget it (:meth:`start` it again under the same name); its return code."""
        process = self.processes.pop(name)
        signal_group(process.pid, signum)
        try:
            return process.wait(timeout=timeout)
        finally:
            signal_group(process.pid, signal.SIGKILL)  # what the leader left of its group

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every process group, then SIGKILL those still there after ``grace`` seconds."""
        for process in self.processes.values():
            signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():  # the group too: a leader that exited may leave children
            signal_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        for log in self._files:
            log.close()

    def show_logs(self, tail: int = 40, file: IO[str] | None = None) -> None:
        """The last ``tail`` lines of every service's log (after a failure), to ``file`` (stderr)."""
        for name in sorted({path.stem for path in self.logs.glob("*.log")} | set(self.processes)):
            lines = self.log(name).splitlines()[-tail:]
            print(f"----- {name} (last {len(lines)} lines) -----\n" + "\n".join(lines), file=file or sys.stderr)


def wait_for(what: str, ready: Callable[[], Any], services: Services, timeout: float = START_TIMEOUT) -> float:
    """Poll ``ready`` every 0.5 s until it is true; the seconds waited. Fails when ``timeout`` passes
    or a service ends."""
    begin = time.monotonic()
    while not ready():
        services.check_alive()
        if time.monotonic() - begin > timeout:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - begin


def http_ok(url: str) -> bool:
    """Whether GET ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a loopback URL of ours)
            return bool(response.status == 200)
    except OSError:
        return False


# ----- Airflow: configuration, CLI -----


def airflow_env(
    home: Path,
    *dag_folders: Path,
    api_port: int,
    executor: str = "LocalExecutor",
    paused_at_creation: bool = True,
    connections: Mapping[str, str] | None = None,
    settings: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every Airflow process of one deployment: this environment plus ``home``, the
    DAG bundles of ``dag_folders`` and a SQLite metadata DB (as :func:`prepare_airflow_home` sets them;
    ``os.environ`` is left as it was), ``executor``, the API server on 127.0.0.1:``api_port`` (its
    execution API is how task workers reach the DB), one JWT secret for all, whether new DAGs start
    paused, ``connections`` (conn id -> URI or JSON, as ``AIRFLOW_CONN_<ID>``) and ``settings`` last
    (e.g. ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` for another DB)."""
    saved = dict(os.environ)
    try:
        prepare_airflow_home(home, *dag_folders)  # sets os.environ; copied below, then restored
        env = dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    env |= {
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(paused_at_creation),
        "PYTHONWARNINGS": "ignore",
    }
    env |= {f"AIRFLOW_CONN_{conn_id.upper()}": value for conn_id, value in (connections or {}).items()}
    env |= dict(settings or {})
    return env


def database_url(env: Mapping[str, str]) -> str:
    """The metadata DB's SQLAlchemy URL in ``env``."""
    return env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def api_port(env: Mapping[str, str]) -> int:
    """The API server's port in ``env`` (:func:`airflow_env`)."""
    return int(env["AIRFLOW__API__PORT"])


def airflow_cli(env: Mapping[str, str], *args: str) -> str:
    """Run ``airflow <args>`` (this interpreter's Airflow); its stdout, or an error with its output."""
    result = subprocess.run(  # noqa: S603 (this interpreter's airflow)
        [*AIRFLOW, *args], env=dict(env), capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


# ----- the metadata DB, read without Airflow -----


def query(database: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the metadata DB at SQLAlchemy URL ``database`` (read only; no Airflow import)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(database, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sqlalchemy.text(sql), params)]
    finally:
        engine.dispose()


def patient_query(database: str, sql: str, *, timeout: float = 20.0, **params: Any) -> list[tuple[Any, ...]]:
    """:func:`query`, asked again while SQLite is locked by a writer (never an empty answer for a locked DB)."""
    import sqlalchemy.exc

    deadline = time.monotonic() + timeout
    while True:
        try:
            return query(database, sql, **params)
        except sqlalchemy.exc.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def safe_query(database: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """:func:`query`, or no rows while the DB is locked or its tables are not there yet."""
    import sqlalchemy.exc

    try:
        return query(database, sql, **params)
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ProgrammingError):
        return []


def as_datetime(value: Any) -> datetime:
    """A DB timestamp as a datetime (SQLite may hand back text)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def running_jobs(database: str, job_type: str) -> list[int]:
    """Ids of the ``job_type`` jobs (``SchedulerJob``, ``TriggererJob``, ``DagProcessorJob``) in state running."""
    sql = "SELECT id FROM job WHERE job_type = :job_type AND state = 'running' ORDER BY id"
    return [int(row[0]) for row in safe_query(database, sql, job_type=job_type)]


def task_instance_states(database: str, dag_id: str, run_id: str) -> dict[str, str]:
    """``task_id`` (``task_id[map_index]`` when mapped) -> state of a DAG run's task instances."""
    sql = "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = :dag_id AND run_id = :run_id"
    rows = safe_query(database, sql, dag_id=dag_id, run_id=run_id)
    return {f"{task}[{index}]" if index >= 0 else task: str(state) for task, index, state in rows}


def task_errors(home: Path, dag_id: str, run_id: str, limit: int = 3) -> list[str]:
    """The first ``limit`` exceptions in a run's task logs (JSON lines), as ``file: type: message``."""
    errors: list[str] = []
    for path in sorted((home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}").rglob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                for detail in json.loads(line).get("error_detail") or []:
                    errors.append(f"{path.parent.name}/{path.name}: {detail['exc_type']}: {detail['exc_value']}")
        if len(errors) >= limit:
            break
    return errors[:limit]


def wait_for_run(
    services: Services, env: Mapping[str, str], dag_id: str, run_id: str, timeout: float = 1_800.0
) -> tuple[float, float]:
    """Wait until a DAG run ends: ``(its queued_at to end_date in s, time.monotonic() when seen ended)``.
    Fails unless it succeeded (with its task states and first errors), or after ``timeout`` seconds."""
    database = database_url(env)
    sql = "SELECT state, queued_at, end_date FROM dag_run WHERE dag_id = :dag_id AND run_id = :run_id"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        services.check_alive()
        rows = safe_query(database, sql, dag_id=dag_id, run_id=run_id)
        if rows and rows[0][0] in ("success", "failed"):
            state, queued_at, end_date = rows[0]
            if state != "success":
                states = task_instance_states(database, dag_id, run_id)
                errors = task_errors(Path(env["AIRFLOW_HOME"]), dag_id, run_id)
                raise RuntimeError(f"DAG run {run_id} {state}: {states}\n" + "\n".join(errors))
            return (as_datetime(end_date) - as_datetime(queued_at)).total_seconds(), time.monotonic()
        time.sleep(0.5)
    states = task_instance_states(database, dag_id, run_id)
    raise TimeoutError(f"DAG run {run_id} not finished after {timeout:.0f} s: {states}")


# ----- starting Airflow -----


def start_triggerer(
    services: Services, env: Mapping[str, str], *, name: str = "triggerer", timeout: float = START_TIMEOUT
) -> int:
    """Start ``airflow triggerer`` as ``name``; once a TriggererJob newer than any running before is
    running, its job id (a killed triggerer's job stays ``running`` in the DB until it is found dead)."""
    database = database_url(env)
    before = max(running_jobs(database, "TriggererJob"), default=0)
    services.start(name, [*AIRFLOW, "triggerer"], env)
    wait_for(name, lambda: max(running_jobs(database, "TriggererJob"), default=0) > before, services, timeout)
    return max(running_jobs(database, "TriggererJob"))


def start_airflow(
    services: Services,
    env: Mapping[str, str],
    *,
    dag_ids: Iterable[str] = (),
    triggerer: bool = False,
    report: Report = _quiet,
    timeout: float = START_TIMEOUT,
) -> None:
    """Start the API server (one worker), scheduler, DAG processor and, with ``triggerer``, a triggerer
    (the metadata DB migrated already: ``airflow_cli(env, "db", "migrate")``); wait until the API server
    answers its health check, the scheduler (and triggerer) job runs and ``dag_ids`` are parsed
    (serialized), each step said to ``report``. Other services (e.g. Celery workers) may be started
    before, to start up alongside."""
    database, port = database_url(env), api_port(env)
    services.start("api-server", [*AIRFLOW, "api-server", "--port", str(port), "--workers", "1"], env)
    services.start("scheduler", [*AIRFLOW, "scheduler"], env)
    services.start("dag-processor", [*AIRFLOW, "dag-processor"], env)
    if triggerer:
        services.start("triggerer", [*AIRFLOW, "triggerer"], env)

    health = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    report(f"API server up after {wait_for('API server', lambda: http_ok(health), services, timeout):.0f} s")
    seconds = wait_for("scheduler", lambda: running_jobs(database, "SchedulerJob"), services, timeout)
    report(f"scheduler running after {seconds:.0f} s more")
    if triggerer:
        seconds = wait_for("triggerer", lambda: running_jobs(database, "TriggererJob"), services, timeout)
        report(f"triggerer running after {seconds:.0f} s more")
    wanted = sorted(set(dag_ids))
    if wanted:
        names = ", ".join(f":dag{index}" for index in range(len(wanted)))
        sql = f"SELECT DISTINCT dag_id FROM serialized_dag WHERE dag_id IN ({names})"  # noqa: S608 (bound names)
        params = {f"dag{index}": dag_id for index, dag_id in enumerate(wanted)}
        seconds = wait_for(
            "DAGs parsed", lambda: len(safe_query(database, sql, **params)) == len(wanted), services, timeout
        )
        report(f"{' and '.join(wanted)} parsed after {seconds:.0f} s more")
