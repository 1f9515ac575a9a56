"""The connection type and default connection id: the ones every task, the hook and the provider info use."""

from __future__ import annotations

import inspect
import json
import re

import pytest

from airflow_provider_bc.get_provider_info import get_provider_info
from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.hooks.names import CONN_TYPE, DEFAULT_CONN_ID
from airflow_provider_bc.operators.business_central import BusinessCentralGetEntityOperator
from airflow_provider_bc.operators.entities import BusinessCentralGetEntitiesOperator
from airflow_provider_bc.sensors.business_central import BusinessCentralEntitySensor
from airflow_provider_bc.sensors.entities import BusinessCentralEntitiesSensor
from airflow_provider_bc.transfers.business_central_to_object_storage import BusinessCentralToObjectStorageOperator
from tests.support import REPO, modules_loaded_by


def test_the_hook_and_the_provider_info_register_the_connection_type() -> None:
    (registered,) = get_provider_info()["connection-types"]
    assert registered["connection-type"] == CONN_TYPE == BusinessCentralHook.conn_type
    assert BusinessCentralHook.default_conn_name == DEFAULT_CONN_ID


def test_they_are_the_names_the_readme_tells_users_to_write() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert set(re.findall(r'"conn_type": "([^"]*)"', readme)) == {CONN_TYPE}
    assert f"AIRFLOW_CONN_{DEFAULT_CONN_ID.upper()}=" in readme


@pytest.mark.parametrize(
    "task",
    [
        BusinessCentralHook,
        BusinessCentralGetEntityOperator,
        BusinessCentralGetEntitiesOperator,
        BusinessCentralEntitySensor,
        BusinessCentralEntitiesSensor,
        BusinessCentralToObjectStorageOperator,
    ],
)
def test_every_task_reads_the_default_connection_unless_told(task: type) -> None:
    assert inspect.signature(task.__init__).parameters["business_central_conn_id"].default == DEFAULT_CONN_ID


def test_the_default_connection_is_the_one_airflow_finds_under_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": CONN_TYPE, "login": "11111111-2222-3333-4444-555555555555", "password": "not-a-real-secret"}
    conn["extra"] = {"tenant_id": "contoso.onmicrosoft.com"}  # type: ignore[assignment]
    monkeypatch.setenv(f"AIRFLOW_CONN_{DEFAULT_CONN_ID.upper()}", json.dumps(conn))
    assert BusinessCentralHook().settings.client_id == conn["login"]


def test_a_dag_file_importing_it_loads_nothing_else() -> None:
    loaded = modules_loaded_by("airflow_provider_bc.hooks.names")
    assert loaded == {"airflow_provider_bc", "airflow_provider_bc.hooks", "airflow_provider_bc.hooks.names"}
