"""What tests share besides fixtures: paths, the documented entry's fields, reading task history.

(Tests import from here, never from ``conftest``: importing ``tests.conftest`` would run the
session set-up a second time.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any


def offline_settings(**overrides: Any) -> Any:
    """``ClientSettings`` for a made-up tenant (nothing is sent with them), with ``overrides``."""
    from airflow_provider_bc.client.settings import ClientSettings

    values: dict[str, Any] = {
        "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": "not-a-real-secret",
        "tenant_id": "contoso.onmicrosoft.com",
        **overrides,
    }
    return ClientSettings(**values)


#: the Airflow under test is 2.x (read from its distribution: importing Airflow here would load it
#: before conftest prepared its home)
AIRFLOW_2 = version("apache-airflow").startswith("2.")
#: the Airflow under test is 3.0.x, the lowest Airflow 3 (``python3 dev.py test-airflow3.0``)
AIRFLOW_3_0 = version("apache-airflow").startswith("3.0.")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "dags_examples"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
DOCUMENTED_ENTRY_FILE = Path(__file__).parent / "emulator" / "data" / "documented_item_ledger_entry.json"
DOCUMENTED_FIELDS = [
    "@odata.etag",
    "id",
    "entryNumber",
    "itemNumber",
    "postingDate",
    "entryType",
    "sourceNumber",
    "sourceType",
    "documentNumber",
    "documentType",
    "description",
    "quantity",
    "salesAmountActual",
    "costAmountActual",
    "lastModifiedDateTime",
]


def audit_trail(*states: str) -> list[str]:
    """The audit log's ``events`` of a task that went through ``states`` in ``dag.test()``: all of
    them under Airflow 3 but 3.0, none under 3.0 (its execution API writes no audit log entry when a
    task changes state: apache/airflow#58381, fixed by #61932), under Airflow 2 only the final one (its
    ``dag.test()`` logs no other)."""
    if AIRFLOW_3_0:
        return []
    return list(states[-1:] if AIRFLOW_2 else states)


def task_history(dag_run: Any, task_id: str) -> dict[str, Any]:
    """What the metadata DB recorded about one task instance of ``dag_run``: its ``state``,
    ``try_number`` and ``trigger_id``, the state changes in order (``events``, from the audit log:
    see :func:`audit_trail`), and how many times it was rescheduled (``reschedules``)."""
    from airflow.models.log import Log
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        (ti,) = [ti for ti in dag_run.get_task_instances(session=session) if ti.task_id == task_id]
        events = session.scalars(
            select(Log.event)
            .where(Log.dag_id == dag_run.dag_id, Log.run_id == dag_run.run_id, Log.task_id == task_id)
            .order_by(Log.id)
        ).all()
        # Airflow's own query: by the task instance's id in Airflow 3, by dag, run, task and try in Airflow 2
        reschedules = session.scalar(
            select(func.count()).select_from(TaskReschedule.stmt_for_task_instance(ti).subquery())
        )
        return {
            "state": str(ti.state),
            "try_number": ti.try_number,
            "trigger_id": ti.trigger_id,
            "events": list(events),
            "reschedules": reschedules,
        }


def batch_checks(emulator: Any) -> list[list[dict[str, Any]]]:
    """The operations of each ``$batch`` request the emulator answered (since its last reset), in order."""
    return [record["operations"] for record in emulator.recent_requests() if record["route"] == "$batch"]


@contextmanager
def posting_after_checks(
    emulator: Any, posts: Mapping[int, Mapping[str, Any]], *, hold: float = 1.0
) -> Iterator[list[dict[str, Any]]]:
    """While the block runs, insert an entry with the fields ``posts[n]`` as soon as the emulator has
    answered ``n`` ``$batch`` requests (a waiting task's checks, counted since its last reset): an insert
    follows a check, never a clock. Those checks' answers are held back ``hold`` seconds after the
    emulator recorded them (a ``stall`` fault), so the insert lands before the task can check again.
    Yields the entries inserted so far; a failed insert is raised when the block ends."""
    stop = threading.Event()
    posted: list[dict[str, Any]] = []
    failed: list[BaseException] = []
    if (held := max(posts) - len(batch_checks(emulator))) > 0:
        emulator.add_fault("stall", count=held, route="$batch", delay=hold)

    def post() -> None:
        try:
            for checks, fields in sorted(posts.items()):
                while len(batch_checks(emulator)) < checks:
                    if stop.wait(0.05):
                        return
                posted.append(emulator.insert_entry(**fields))
        except BaseException as error:  # handed to the test's thread
            failed.append(error)

    poster = threading.Thread(target=post, name="post-after-checks", daemon=True)
    poster.start()
    try:
        yield posted
    finally:
        stop.set()
        poster.join()
    if failed:
        raise failed[0]


def modules_loaded_by(module: str) -> set[str]:
    """The modules outside the standard library a fresh interpreter loads to import ``module`` (as a DAG
    file's parse would)."""
    import subprocess
    import sys

    probe = f"import sys\nbefore = set(sys.modules)\nimport {module}\nprint(*sorted(set(sys.modules) - before))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name for name in out.stdout.split() if name.split(".")[0] not in sys.stdlib_module_names}


#: the variables MSAL reads to find a managed identity endpoint on the host
MSAL_IDENTITY_ENVIRONMENT = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
)


def without_managed_identity(monkeypatch: Any) -> None:
    """No managed identity endpoint in the environment (a test's host may have one)."""
    for name in MSAL_IDENTITY_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def apt_install(packages: list[str], needed_by: str) -> None:
    """Install Debian ``packages`` with apt (as root), the package lists refreshed once if stale; a test
    failure saying what to install when that cannot be done."""
    import os
    import shutil
    import subprocess

    import pytest

    command = ["apt-get", "install", "-y", *packages]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"{needed_by}: as root, run `{' '.join(command)}`", pytrace=False)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:  # stale package lists: refresh them once
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(command)}` failed:\n{done.stderr[-2000:]}", pytrace=False)
