"""Every code block of the README and of the documentation site (``docs/``) runs, verbatim, in a test: a page
that drifts from the code fails here.

Scenarios (the ``<!-- readme-test: ... -->`` tag above each block): ``install`` (tests/packaging),
``connection-env``, ``hook``, ``batch``, ``batch-tasks``, ``tasks``, ``reconcile`` (the operator against a
SQLite warehouse), ``emulator``, ``walkthrough`` (the example DAGs in a fresh Airflow home against the
emulator, as a user runs them), ``pool`` (after the walkthrough, in its home), ``pytest-plugin``;
``consumer`` (reading an extraction's runs) runs in ``tests/extraction/test_late_commits.py``, against
runs with late commits and repeats.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.doc_blocks import blocks, tagged_blocks, untagged_fences
from tests.support import EXAMPLE_DAGS, REPO

SCENARIOS = {
    "install",
    "connection-env",
    "connection-test",
    "hook",
    "batch",
    "batch-tasks",
    "tasks",
    "reconcile",
    "emulator",
    "walkthrough",
    "pool",
    "pytest-plugin",
    "consumer",
    "assets",
}
VENV = Path(sys.executable).parent.parent  # the venv running the tests: the README's .venv


def _user_env(**extra: str) -> dict[str, str]:
    """A user's shell environment: none of this test session's Airflow, pytest or Python settings."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "PYTHON", "BC_"))}
    return {**keep, **extra}


def _stop_group(process: subprocess.Popen[Any]) -> None:
    """End a shell started in its own session and whatever it left running (the emulator in background)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with pytest.raises(ProcessLookupError):  # nothing of the group survives
        os.killpg(process.pid, signal.SIGKILL)


def test_every_code_block_belongs_to_a_scenario_tested_here() -> None:
    assert untagged_fences() == [], "a code block without <!-- readme-test: ... --> above it"
    assert {tag for tag, _, _, _ in tagged_blocks()} == SCENARIOS


def test_the_connection_env_block_is_a_connection_airflow_reads_and_the_hook_checks(tmp_path: Path) -> None:
    check = (
        f"{sys.executable} -c 'from airflow_provider_bc.hooks.business_central import BusinessCentralHook as H; "
        "H().settings'"
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", blocks("connection-env")[0] + "\n" + check],
        env=_user_env(AIRFLOW_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Airflow found and parsed the connection; our validation refuses its placeholders by name
    assert done.returncode == 1 and "BusinessCentralConfigError" in done.stderr, done.stderr[-2000:]
    assert "business_central_default" in done.stderr and "isn't defined" not in done.stderr
    assert re.search(r"client id|client_id|company_id|login", done.stderr)


def test_the_connection_test_block_gets_a_token_and_lists_the_companies(
    bc_emulator: EmulatorHandle, tmp_path: Path
) -> None:
    env = _user_env(
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT=bc_emulator.airflow_connection_env(),
        PATH=f"{VENV / 'bin'}:{os.environ['PATH']}",
    )
    tokens_before = bc_emulator.stats()["tokens_issued"]
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", blocks("connection-test")[0]],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Connection success!" in done.stdout, done.stdout[-2000:]
    assert bc_emulator.stats()["tokens_issued"] > tokens_before
    assert any(r["route"] == "companies" and r["status"] == 200 for r in bc_emulator.recent_requests())


def _run_against(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, scenario: str) -> dict[str, Any]:
    """Run ``scenario``'s Python block with the default connection pointing at ``emulator``; its names."""
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
    namespace: dict[str, Any] = {}
    exec(blocks(scenario)[0], namespace)
    return namespace


def test_the_hook_block_reads_from_business_central(
    bc_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = _run_against(bc_emulator, monkeypatch, "hook")
    assert namespace["entry"]["id"] == bc_emulator.documented_entry_id and namespace["entry"]["entryNumber"] == 1
    assert set(namespace["row"]) >= {"id", "entryNumber", "itemNumber", "quantity"}  # the loop read rows
    # the filter with O'Brien's quote (escaped, else a 400) read pages of matching entries
    assert [r["status"] for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntries"] == [200]


def test_the_batch_block_checks_many_entries_in_two_requests(
    bc_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = _run_against(bc_emulator, monkeypatch, "batch")
    assert namespace["missing"] == ["00000000-0000-4000-8000-000000000001"]
    assert namespace["entries"]["44A76D24-52FF-EB11-BB76-000D3A220646"]["entryNumber"] == 1
    assert namespace["not_posted"] == ["NO-SUCH-DOC"] and namespace["matches"]["START-MANF"]
    api = [r for r in bc_emulator.recent_requests() if r["route"] not in ("token", "discovery")]
    assert [(r["route"], len(r["operations"])) for r in api] == [("$batch", 2), ("$batch", 2)]


def test_the_batch_tasks_block_reads_a_list_and_waits_for_one(
    bc_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = _run_against(bc_emulator, monkeypatch, "batch-tasks")
    found = namespace["get_booked"].execute({})
    assert found["44a76d24-52ff-eb11-bb76-000d3a220646"]["entryNumber"] == 1
    assert found["00000000-0000-4000-8000-000000000001"] is None
    sensor = namespace["wait_for_shipments"]
    assert sensor.deferrable and not sensor.poke({}).is_done  # SHIP-0001 is not posted
    api = [r for r in bc_emulator.recent_requests() if r["route"] not in ("token", "discovery")]
    assert [(r["route"], len(r["operations"])) for r in api] == [("$batch", 2), ("$batch", 2)]


def test_the_operator_sensor_and_extraction_blocks_build_their_tasks() -> None:
    namespace: dict[str, Any] = {}
    for code in blocks("tasks"):
        exec(code, namespace)
    assert type(namespace["get_entry"]).__name__ == "BusinessCentralGetItemLedgerEntryOperator"
    assert namespace["get_entry"].entity_id == "{{ ti.xcom_pull(task_ids='choose_entry') }}"
    assert namespace["wait"].deferrable and namespace["wait"].match == {
        "documentNumber": "{{ params.document_number }}"
    }
    extract = namespace["extract"]
    assert (extract.destination, extract.cursor, extract.format) == (
        "s3://lake/business-central",
        "last_modified",
        "ndjson",
    )


def test_the_assets_block_declares_a_watched_asset_and_a_dag_scheduled_on_it() -> None:
    from airflow_provider_bc.triggers.new_entities import BusinessCentralNewEntitiesTrigger

    namespace: dict[str, Any] = {}
    [code] = blocks("assets")
    exec(code, namespace)
    asset = namespace["posted_entries"]
    [watcher] = asset.watchers
    assert isinstance(watcher.trigger, BusinessCentralNewEntitiesTrigger)
    assert (watcher.trigger.watermark_field, watcher.trigger.poll_interval) == ("entryNumber", 60.0)
    assert [a.name for a in namespace["dag"].timetable.asset_condition.objects] == [asset.name]
    task = namespace["dag"].get_task("signalled_range")
    events = [type("Event", (), {"extra": {"payload": {"from": f, "to": t}}})() for f, t in ((10, 14), (14, 20))]
    assert task.python_callable(triggering_asset_events={asset: events}) == {
        "filter": "entryNumber gt 10 and entryNumber le 20",
        "run_name": "entries-10-20",
    }


def test_the_reconcile_block_reconciles_a_warehouse_table(
    bc_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow.providers.common.compat.sdk import AirflowFailException

    namespace = _run_against(bc_emulator, monkeypatch, "reconcile")
    reconcile = namespace["reconcile"]
    assert (reconcile.table, reconcile.report_conn_id) == ("item_ledger_entries", "aws_lake")
    reconcile.report_destination, reconcile.report_conn_id = tmp_path.as_uri(), None  # here: no S3
    warehouse = tmp_path / "warehouse.db"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)}))
    # the table the block names, loaded with Business Central's entries of a day
    types = {
        "entryNumber": "INTEGER",
        "itemNumber": "TEXT",
        "postingDate": "DATE",
        "quantity": "NUMERIC",
        "costAmountActual": "NUMERIC",
        "lastModifiedDateTime": "TEXT",
    }
    names, columns = list(types), [reconcile.columns.get(name, name) for name in types]
    with contextlib.closing(BusinessCentralHook().new_client()) as client:
        query = {"filter": "postingDate eq 2022-06-02", "select": names, "exact_numbers": True}
        entries = list(client.iter_entities("itemLedgerEntries", **query))
    assert len(entries) > 2
    with contextlib.closing(sqlite3.connect(warehouse)) as connection, connection:
        declared = ", ".join(f"{column} {types[name]}" for name, column in zip(names, columns, strict=True))
        connection.execute(f"CREATE TABLE item_ledger_entries ({declared})")
        connection.executemany(
            f"INSERT INTO item_ledger_entries VALUES ({', '.join('?' * len(names))})",
            [[str(e[n]) if n in ("quantity", "costAmountActual") else e[n] for n in names] for e in entries],
        )
    interval = {
        "data_interval_start": pendulum.datetime(2022, 6, 2, tz="UTC"),
        "data_interval_end": pendulum.datetime(2022, 6, 3, tz="UTC"),
    }

    summary = reconcile.execute({"run_id": "scheduled__2022-06-03", **interval})
    assert summary["passed"] and set(summary["counts"].values()) == {0}, summary
    assert summary["rows"] == {"business_central": len(entries), "warehouse": len(entries)}
    assert (tmp_path / "scheduled__2022-06-03" / "report.html").is_file()

    with contextlib.closing(sqlite3.connect(warehouse)) as connection, connection:
        connection.execute(f"DELETE FROM item_ledger_entries WHERE {columns[0]} = ?", (entries[1]["entryNumber"],))
    with pytest.raises(AirflowFailException, match=r"reconciliation failed \(missing: 1 > 0"):
        reconcile.execute({"run_id": "scheduled__2022-06-03-again", **interval})
    report = json.loads((tmp_path / "scheduled__2022-06-03-again" / "report.json").read_text())
    assert report["samples"]["missing"] == [entries[1]["entryNumber"]]


def test_the_emulator_block_starts_the_emulator_and_a_signal_stops_it() -> None:
    process = subprocess.Popen(
        ["bash", "-c", blocks("emulator")[0]],
        cwd=REPO,
        env=_user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        for line in process.stdout:  # until the export line, the last of the start message
            lines.append(line)
            if line.startswith("export AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT="):
                break
        assert any("(20000 item ledger entries)" in line for line in lines), "".join(lines)
    finally:
        _stop_group(process)


@pytest.fixture
def user_checkout(tmp_path: Path) -> Iterator[Path]:
    """A folder laid out as a clone where ``python3 dev.py`` ran: ``.venv`` and ``dags_examples/``."""
    (tmp_path / ".venv").symlink_to(VENV)
    (tmp_path / "dags_examples").symlink_to(EXAMPLE_DAGS)
    yield tmp_path


def test_the_walkthrough_runs_every_example_dag_then_the_pool_block(user_checkout: Path) -> None:
    script = "\n".join(
        [
            # a failing step ends the script: the emulator it started goes too (else its output pipe stays open)
            "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
            *blocks("walkthrough"),
            *blocks("pool"),
            ".venv/bin/airflow pools get business_central -o json",
        ]
    )
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=user_checkout,
        env=_user_env(PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"),  # the pool block says `airflow`
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=900)
    finally:
        _stop_group(process)
    assert process.returncode == 0, output[-6000:]
    finished = dict(re.findall(r"DagRun Finished: dag_id=(\w+),.*? state=(\w+),", output))
    assert finished == {
        "bc_fetch_item_ledger_entry": "success",
        "bc_wait_for_posting": "success",
        "bc_reconcile_item_ledger": "success",
        "bc_extract_item_ledger": "success",
    }, output[-6000:]
    # the run of 2022-06-03 reconciled its data interval, loaded into the SQLite warehouse: nothing differs
    assert '"start": "2022-06-02"' in output and '"end": "2022-06-03"' in output
    assert '"failed": []' in output and '"missing": 0' in output
    assert (user_checkout / ".bc-warehouse.db").is_file()
    (pool,) = json.loads(output[output.rindex("[{") :])
    assert pool["pool"] == "business_central" and int(pool["slots"]) == 5
    deadline = time.monotonic() + 30  # the emulator, stopped by `kill %1`, removes its env file
    while (user_checkout / ".bc-emulator.env").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (user_checkout / ".bc-emulator.env").exists()


def test_the_pytest_plugin_blocks_make_a_working_suite(tmp_path: Path) -> None:
    conftest, test = blocks("pytest-plugin")
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_mine.py").write_text(test)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mine.py"],
        cwd=tmp_path,
        env=_user_env(AIRFLOW_HOME=str(tmp_path / "airflow")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
