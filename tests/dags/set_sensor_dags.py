"""DAGs the test suite runs with ``dag.test()``: the set sensor in each mode, waiting for the ids in
the run's conf (rendered as a list: ``render_template_as_native_obj``)."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_bc.sensors.entities import BusinessCentralEntitiesSensor

for mode in ("poke", "reschedule", "deferrable"):
    with DAG(
        dag_id=f"bc_test_set_sensor_{mode}",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        render_template_as_native_obj=True,
    ) as dag:
        BusinessCentralEntitiesSensor(
            task_id="wait",
            entity_set="itemLedgerEntries",
            entity_ids="{{ dag_run.conf['ids'] }}",
            select=["id", "entryNumber"],
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
            poke_interval=1,
            timeout=120,
            retries=2,  # bad arguments must fail the task without them
        )
    globals()[dag.dag_id] = dag
