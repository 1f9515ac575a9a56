"""Fetch one item ledger entry by id and use it downstream through XCom.

``choose_entry`` hands the id on through XCom (in real life: from a queue, a webhook payload, a
param); ``get_entry`` renders it into ``entry_id`` and pushes the entry as its ``return_value``;
``describe_entry`` reads it from XCom. Needs the ``business_central_default`` connection (the
emulator prints one: ``python -m airflow_provider_bc.testing.emulator``).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_bc.operators.business_central import BusinessCentralGetItemLedgerEntryOperator

# Microsoft's documented example entry ("Get itemLedgerEntries").
DOCUMENTED_ENTRY_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"

with DAG(
    dag_id="bc_fetch_item_ledger_entry",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"entry_id": DOCUMENTED_ENTRY_ID},
    tags=["business-central", "example"],
) as dag:

    @task
    def choose_entry(params: dict[str, Any] | None = None) -> str:
        """Pick the entry to fetch (here: the DAG param)."""
        return str((params or {})["entry_id"])

    get_entry = BusinessCentralGetItemLedgerEntryOperator(
        task_id="get_entry",
        entry_id="{{ ti.xcom_pull(task_ids='choose_entry') }}",
    )

    @task
    def describe_entry(entry: dict[str, Any]) -> str:
        """Summarise the fetched entry (decoding its enum values for people)."""
        from airflow_provider_bc.client.odata import decode_enum

        summary = (
            f"Entry {entry['entryNumber']}: {decode_enum(entry['entryType'])} of {entry['quantity']} x item "
            f"{entry['itemNumber']} on {entry['postingDate']} (document {entry['documentNumber']}), "
            f"cost {entry['costAmountActual']}"
        )
        print(summary)
        return summary

    choose_entry() >> get_entry
    describe_entry(get_entry.output)
