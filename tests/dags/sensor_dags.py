"""DAGs the test suite runs with ``dag.test()``: sensors that can only time out or fail."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_bc.sensors.business_central import BusinessCentralItemLedgerEntrySensor

NEVER_POSTED = {"documentNumber": "NEVER-POSTED-0001"}

for mode in ("poke", "reschedule", "deferrable"):
    with DAG(
        dag_id=f"bc_test_sensor_timeout_{mode}",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
    ) as dag:
        BusinessCentralItemLedgerEntrySensor(
            task_id="wait",
            match=NEVER_POSTED,
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
            poke_interval=1,
            timeout=4,
        )
    globals()[dag.dag_id] = dag

with DAG(
    dag_id="bc_test_sensor_wrong_secret",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    BusinessCentralItemLedgerEntrySensor(
        task_id="wait",
        business_central_conn_id="bc_wrong_secret",
        match=NEVER_POSTED,
        poke_interval=30,
        timeout=600,
    )
