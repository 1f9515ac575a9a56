"""The set sensor under real Airflow (dag.test), in poke, reschedule and deferrable mode: it finishes
when the last of its ids is posted (each insert follows one of its checks, never a clock), logs the
missing ids at each check, and fails at once, without retries, on a malformed id.

Decided by what happened: the ids each ``$batch`` asked for, the task's recorded state changes,
reschedules and XCom, the log lines; never by a stopwatch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest

from airflow_provider_bc.testing.airflow_runs import dag_test, load_dag, task_states, xcom_value
from tests.support import AIRFLOW_2, TEST_DAGS, audit_trail, batch_checks, posting_after_checks, task_history

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"
#: the ids each of the three checks asks for: the first asks for all; in poke mode and in the trigger
#: the later ones ask only for those still missing; a rescheduled run (and the trigger's first check,
#: after the sensor's own) asks for all again
ASKED = {
    "poke": lambda ids: [ids, ids[1:], ids[2:]],
    "reschedule": lambda ids: [ids, ids, ids],
    "deferrable": lambda ids: [ids, ids, ids[2:]],
}


@pytest.fixture
def run_sensor(airflow_db: None, bc_connection: Callable[..., dict[str, Any]]) -> Callable[[str, list[str]], Any]:
    """Run the set sensor's DAG of a mode with ``dag.test()``, waiting for ``ids``: the DAG run."""
    bc_connection()

    def run(mode: str, ids: list[str]) -> Any:
        return dag_test(load_dag(TEST_DAGS / "set_sensor_dags.py", f"bc_test_set_sensor_{mode}"), run_conf={"ids": ids})

    return run


def asked(emulator: Any) -> list[list[str]]:
    """The ids each ``$batch`` asked for."""
    return [
        [unquote(op["path"]).split("itemLedgerEntries(")[1].split(")")[0] for op in operations]
        for operations in batch_checks(emulator)
    ]


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_the_set_sensor_finishes_when_the_last_id_is_posted_and_logs_the_missing_at_each_check(
    mode: str, run_sensor: Callable[[str, list[str]], Any], bc_emulator: Any, task_logs: Callable[[], str]
) -> None:
    first, last = str(uuid.uuid4()), str(uuid.uuid4())
    ids = [DOCUMENTED_ID, first, last]
    with posting_after_checks(bc_emulator, {1: {"id": first}, 2: {"id": last}}) as posted:
        run = run_sensor(mode, ids)
    logs = task_logs()
    assert [entry["id"] for entry in posted] == [first, last]
    assert task_states(run) == {"wait": "success"}
    found = xcom_value(run, "wait")
    assert list(found) == ids and [entity["id"] for entity in found.values()] == ids

    assert asked(bc_emulator) == ASKED[mode](ids)  # it finished at the check after the last insert
    assert f"1 of 3 found; missing 2: {first}, {last}" in logs
    assert f"2 of 3 found; missing 1: {last}" in logs
    assert "3 of 3 found" in logs or mode == "deferrable"  # the trigger's last check is its event

    history = task_history(run, "wait")
    assert history["try_number"] == 1
    if mode == "poke":
        assert history["events"] == audit_trail("running", "success")
        assert history["reschedules"] == 0 and history["trigger_id"] is None
    elif mode == "reschedule":
        assert history["reschedules"] == 2
        assert history["events"] == audit_trail(*["running", "up_for_reschedule"] * 2, "running", "success")
    else:
        assert history["events"] == audit_trail("running", "deferred", "running", "success")
        assert history["trigger_id"] is not None or AIRFLOW_2


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_a_malformed_id_fails_the_set_sensor_at_once_without_retries(
    mode: str, run_sensor: Callable[[str, list[str]], Any], bc_emulator: Any, task_logs: Callable[[], str]
) -> None:
    run = run_sensor(mode, [DOCUMENTED_ID, "44a76d24-52ff"])
    assert task_states(run) == {"wait": "failed"}
    assert "entity_ids[1]: must be a GUID" in task_logs()
    history = task_history(run, "wait")
    assert history["events"] == audit_trail("running", "failed")
    assert history["try_number"] == 1  # retries=2, none taken
    assert bc_emulator.stats()["total_requests"] == 0
