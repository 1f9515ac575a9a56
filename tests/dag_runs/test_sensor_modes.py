"""Sensors under real Airflow (dag.test): the timeout holds in every mode; a wrong secret fails at once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_bc.testing.airflow_runs import load_dag, task_states
from tests.conftest import TEST_DAGS


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_timeout_is_honoured(
    mode: str, airflow_db: None, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    dag = load_dag(TEST_DAGS / "sensor_dags.py", f"bc_test_sensor_timeout_{mode}")
    started = time.monotonic()
    run = dag.test()
    elapsed = time.monotonic() - started
    assert str(run.state) == "failed"
    assert task_states(run) == {"wait": "failed"}
    assert 4 <= elapsed < 40, elapsed  # waited out the 4 s timeout, then stopped
    checks = bc_emulator.stats()["requests"]["itemLedgerEntries"]["200"]
    assert checks >= 2  # it did check more than once while waiting


def test_wrong_secret_fails_on_the_first_check(
    airflow_db: None, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = bc_connection("bc_wrong_secret", fresh_client=True)
    conn["password"] = "wrong-" + conn["password"]
    monkeypatch.setenv("AIRFLOW_CONN_BC_WRONG_SECRET", json.dumps(conn))
    started = time.monotonic()
    run = load_dag(TEST_DAGS / "sensor_dags.py", "bc_test_sensor_wrong_secret").test()
    assert str(run.state) == "failed"
    assert time.monotonic() - started < 25  # not the 600 s timeout, not even one 30 s poke interval
    stats = bc_emulator.stats()
    assert stats["requests"]["token"].get("401", 0) + stats["requests"]["token"].get("400", 0) >= 1
    assert "itemLedgerEntries" not in stats["requests"]
