"""Test-session setup: a throw-away AIRFLOW_HOME with a SQLite metadata DB, set before Airflow loads,
the session-wide secret scan (:mod:`tests.secret_scan`) and the emulator's pytest plugin (opt-in)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.testing.airflow_runs import prepare_airflow_home
from tests.secret_scan import SecretScanner, SecretScanPlugin
from tests.support import AIRFLOW_3_0, DOCUMENTED_ENTRY_FILE, EXAMPLE_DAGS, TEST_DAGS

prepare_airflow_home(Path(tempfile.mkdtemp(prefix="bc-airflow-home-")), EXAMPLE_DAGS, TEST_DAGS)
os.environ.pop("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", None)

pytest_plugins = ["airflow_provider_bc.testing.pytest_plugin"]

SECRET_SCANNER = pytest.StashKey[SecretScanner]()


def metadata_db() -> Path | None:
    """The SQLite file of the metadata DB Airflow is using in this process (``None`` if Airflow never
    set up its DB connection, or it is not SQLite). Asked of Airflow, not of the environment: this
    module must not be imported by tests (they import :mod:`tests.support`): it prepares the home."""
    settings = sys.modules.get("airflow.settings")
    engine = getattr(settings, "engine", None)
    if engine is not None:
        url = engine.url
        return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
    conn = str(getattr(settings, "SQL_ALCHEMY_CONN", None) or "")
    return Path(conn.removeprefix("sqlite:///")) if conn.startswith("sqlite:///") else None


def pytest_configure(config: pytest.Config) -> None:
    scanner = SecretScanner(xcom_db=metadata_db)
    config.stash[SECRET_SCANNER] = scanner
    config.pluginmanager.register(SecretScanPlugin(scanner), "bc_secret_scan")


@pytest.fixture(scope="session")
def secret_scanner(pytestconfig: pytest.Config) -> SecretScanner:
    """The session's secret scanner: what it collected so far, and the secrets it looks for."""
    return pytestconfig.stash[SECRET_SCANNER]


@pytest.fixture(scope="session")
def bc_emulator_session(bc_emulator_session: Any, secret_scanner: SecretScanner) -> Iterator[Any]:
    """The plugin's session emulator; its client secret and every token it issued are looked for."""
    secret_scanner.add_secret("client secret", bc_emulator_session.client_secret)
    yield bc_emulator_session
    for token in bc_emulator_session.issued_tokens():
        secret_scanner.add_secret("access token issued by the emulator", token)


@pytest.fixture(scope="session")
def documented_entry() -> dict[str, Any]:
    """Microsoft's documented example response (copied from the reference)."""
    return dict(json.loads(DOCUMENTED_ENTRY_FILE.read_text(encoding="utf-8")))


@pytest.fixture
def bc_connection(
    bc_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    secret_scanner: SecretScanner,
) -> Callable[..., dict[str, Any]]:
    """Define an Airflow connection (env var) to the emulator; ``fresh_client=True`` registers a new
    Entra app so the test starts with an empty MSAL token cache. Returns the connection dict.
    Its password is one of the secrets the session's secret scan looks for."""

    def define(
        conn_id: str = "business_central_default", *, fresh_client: bool = False, **extra: Any
    ) -> dict[str, Any]:
        conn = bc_emulator.airflow_connection()
        if fresh_client:
            conn["login"], conn["password"] = bc_emulator.register_client()
        conn["extra"].update(extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        secret_scanner.add_secret("client secret", conn["password"])
        return dict(conn)

    return define


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The metadata DB's tables, created once per test session (``dag.test()`` needs them)."""
    from airflow_provider_bc.testing.airflow_runs import create_metadata_db

    create_metadata_db()
    if AIRFLOW_3_0:
        run_tasks_as_airflow_3_0_workers_do()


def run_tasks_as_airflow_3_0_workers_do() -> None:
    """Airflow 3.0's ``dag.test()`` runs a task in the test's process; its workers run it in a task process
    that talks to a supervisor over a socket. Two differences, which later Airflows removed, are set here
    as a worker has them:

    - Airflow 3.0 configures no structlog in the test's process, so structlog's default prints every event,
      DEBUG too, among them the task SDK's "Sending request" with each secret a task asks its supervisor
      to mask; a task process drops events below ``[logging] logging_level``, as Airflow >= 3.1 does at
      import;
    - a rescheduled sensor is handed its first reschedule date as the API's text (the task process gets it
      parsed, through the socket) and fails its second run with a TypeError (apache/airflow#58777, fixed
      by apache/airflow#58791, which parses it as below)."""
    import logging

    import structlog
    from airflow.configuration import conf
    from airflow.sdk.api.client import TaskInstanceOperations
    from airflow.sdk.execution_time.comms import TaskRescheduleStartDate

    if not structlog.is_configured():
        level = getattr(logging, conf.get("logging", "logging_level").upper())
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))

    as_text = TaskInstanceOperations.get_reschedule_start_date

    def parsed(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = as_text(self, *args, **kwargs)
        return TaskRescheduleStartDate(start_date=answer.start_date)

    TaskInstanceOperations.get_reschedule_start_date = parsed  # type: ignore[method-assign]


@pytest.fixture
def task_logs(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """What tasks and triggers logged since the last call: Airflow 3 renders task logs straight to the
    process's output, Airflow 2 hands them to Python's logging."""

    def read() -> str:
        output = capfd.readouterr()
        text = output.out + output.err + caplog.text
        caplog.clear()
        return text

    return read
