"""Sensors under real Airflow (dag.test): the timeout holds in every mode; a wrong secret fails at once.

Decided by what happened (the emulator's request counts, the task instance's recorded state changes,
reschedules and trigger, the exception the task failed with), never by a stopwatch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_bc.testing.airflow_runs import load_dag, task_states
from tests.support import AIRFLOW_2, TEST_DAGS, audit_trail, task_history

TIMEOUT, POKE_INTERVAL = 4, 1  # as in tests/dags/sensor_dags.py
TRIGGER_CHECKED = "not there yet (check"  # what the trigger logs after each check (the sensor logs "No ... yet")


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_timeout_is_honoured(
    mode: str,
    airflow_db: None,
    bc_emulator: Any,
    bc_connection: Callable[..., dict[str, Any]],
    task_logs: Callable[[], str],
) -> None:
    bc_connection()
    run = load_dag(TEST_DAGS / "sensor_dags.py", f"bc_test_sensor_timeout_{mode}").test()
    logs = task_logs()
    assert str(run.state) == "failed"
    assert task_states(run) == {"wait": "failed"}
    assert "AirflowSensorTimeout" in logs  # it failed because it timed out ...

    requests = bc_emulator.stats()["requests"]
    checks = requests["itemLedgerEntries"].get("200", 0)
    assert requests["itemLedgerEntries"] == {"200": checks}  # ... not because a check went wrong
    # it checked more than once while waiting, and stopped: one check per poke interval at most
    assert 2 <= checks <= TIMEOUT // POKE_INTERVAL + 3, checks

    assert (TRIGGER_CHECKED in logs) == (mode == "deferrable")  # only a deferred sensor's trigger checked

    history = task_history(run, "wait")
    assert history["try_number"] == 1  # a timeout is final: no retry
    if mode == "poke":  # poked in place, in one go
        assert history["events"] == audit_trail("running", "failed")
        assert history["reschedules"] == 0 and history["trigger_id"] is None
    elif mode == "reschedule":  # one check per run: each but the last ended in a reschedule
        reschedules = history["reschedules"]
        assert reschedules >= 1
        assert history["events"] == audit_trail(*["running", "up_for_reschedule"] * reschedules, "running", "failed")
        assert checks == reschedules + 1
        assert history["trigger_id"] is None
    else:  # checked once, handed the waiting to a trigger, resumed only to fail
        assert history["events"] == audit_trail("running", "deferred", "running", "failed")
        assert history["reschedules"] == 0
        # Airflow 3 keeps the trigger it ran; Airflow 2's dag.test() runs it in line and keeps none
        assert history["trigger_id"] is not None or AIRFLOW_2


def test_wrong_secret_fails_on_the_first_check(
    airflow_db: None, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = bc_connection("bc_wrong_secret", fresh_client=True)
    conn["password"] = "wrong-" + conn["password"]
    monkeypatch.setenv("AIRFLOW_CONN_BC_WRONG_SECRET", json.dumps(conn))
    run = load_dag(TEST_DAGS / "sensor_dags.py", "bc_test_sensor_wrong_secret").test()
    assert str(run.state) == "failed"
    stats = bc_emulator.stats()
    refused = {status: n for status, n in stats["requests"]["token"].items() if status != "200"}
    assert sum(refused.values()) == 1 and set(refused) <= {"400", "401"}, refused  # asked once, not again
    assert "itemLedgerEntries" not in stats["requests"]
    # failed on its first poke: no second poke (30 s later), no reschedule, no retry, no 600 s wait
    history = task_history(run, "wait")
    assert history["events"] == audit_trail("running", "failed")
    assert history["try_number"] == 1 and history["reschedules"] == 0
