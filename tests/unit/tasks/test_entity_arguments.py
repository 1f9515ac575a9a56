"""EntitySetArguments: both set tasks keep where they read under the names their templates and reads use."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_bc.operators.entities import BusinessCentralGetEntitiesOperator
from airflow_provider_bc.sensors.entities import BusinessCentralEntitiesSensor
from airflow_provider_bc.tasks.entity_arguments import EntitySetArguments
from tests.support import modules_loaded_by

COMPANY = "7b1e1a2c-3d4e-4f50-8162-738495a6b7c8"
KEPT = ("entity_set", "company_id", "select", "business_central_conn_id")


def test_the_arguments_are_kept_as_given() -> None:
    kept = EntitySetArguments()
    kept._keep_set_arguments("itemLedgerEntries", None, "id,quantity", "bc")
    assert [getattr(kept, name) for name in KEPT] == ["itemLedgerEntries", None, "id,quantity", "bc"]


@pytest.mark.parametrize(
    ("task", "arguments"),
    [
        (BusinessCentralGetEntitiesOperator, {"entity_ids": ["x"]}),
        (BusinessCentralEntitiesSensor, {"match": {"documentNumber": ["D1"]}}),
    ],
)
def test_both_set_tasks_keep_them_and_template_all_but_the_connection(task: Any, arguments: dict[str, Any]) -> None:
    made = task(
        task_id="t",
        entity_set="{{ params.entity_set }}",
        company_id=COMPANY,
        select=["id"],
        business_central_conn_id="bc_other",
        **arguments,
    )
    assert isinstance(made, EntitySetArguments)
    assert [getattr(made, name) for name in KEPT] == ["{{ params.entity_set }}", COMPANY, ["id"], "bc_other"]
    assert set(KEPT) & set(made.template_fields) == {"entity_set", "company_id", "select"}


def test_a_dag_file_importing_it_loads_nothing_else() -> None:
    loaded = modules_loaded_by("airflow_provider_bc.tasks.entity_arguments")
    assert loaded == {"airflow_provider_bc", "airflow_provider_bc.tasks", "airflow_provider_bc.tasks.entity_arguments"}
