"""Wait (deferrable) until an item ledger entry with a given document number is posted, then fetch it.

The sensor frees its worker slot while waiting: it checks once, then hands the waiting to the
triggerer, which polls Business Central asynchronously every ``poke_interval`` seconds until the
entry appears or ``timeout`` passes. Its XCom value is the list of matching entries; the next
task fetches the first one by id.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_bc.operators.business_central import BusinessCentralGetItemLedgerEntryOperator
from airflow_provider_bc.sensors.business_central import BusinessCentralItemLedgerEntrySensor

with DAG(
    dag_id="bc_wait_for_posting",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"document_number": "DEMO-0001"},
    tags=["business-central", "example"],
) as dag:
    wait_for_entry = BusinessCentralItemLedgerEntrySensor(
        task_id="wait_for_entry",
        match={"documentNumber": "{{ params.document_number }}"},
        select=["id", "entryNumber", "documentNumber", "postingDate"],
        deferrable=True,
        poke_interval=2,
        timeout=300,
    )

    fetch_entry = BusinessCentralGetItemLedgerEntryOperator(
        task_id="fetch_entry",
        entry_id="{{ ti.xcom_pull(task_ids='wait_for_entry')[0]['id'] }}",
        decode_enum_values=True,
    )

    @task
    def announce(entry: dict[str, Any]) -> str:
        """Say what was posted."""
        message = (
            f"Document {entry['documentNumber']} posted as entry {entry['entryNumber']}: "
            f"{entry['entryType']} of {entry['quantity']} x item {entry['itemNumber']}"
        )
        print(message)
        return message

    wait_for_entry >> fetch_entry
    announce(fetch_entry.output)
