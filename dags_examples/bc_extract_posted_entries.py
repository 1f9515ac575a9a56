"""Extract item ledger entries as they are posted: an asset watched by ``BusinessCentralNewEntitiesTrigger``,
and a DAG scheduled on it that extracts exactly the entries each run is for.

The watcher polls the company every ``poll_interval`` seconds (``BC_POLL_INTERVAL``, 60 by default) and
fires only when its watermark moves: each event covers the entry numbers ``(from, to]``, and the next one
starts where it ended. Several events can fold into one DAG run (``triggering_asset_events`` holds them
all, oldest first): they adjoin, so ``signalled_range`` takes their union, ``min(from)`` to ``max(to)``,
and ``extract`` (``BusinessCentralToObjectStorageOperator``, ``cursor="full"``) writes exactly those
entries to ``<destination>/itemLedgerEntries/company=<id>/entries-<from>-<to>/``. After a triggerer
restart on Airflow 3.3 a range may be signalled again, with the same range and ``idempotency_key``:
its run has the same ``run_name``, finds that folder complete, and does nothing.

The company: ``BC_COMPANY_ID``, by default CRONUS USA, Inc. of the emulator
(``python -m airflow_provider_bc.testing.emulator``); the connection: ``business_central_default``.

**Airflow 3 only** (asset watchers do not exist in Airflow 2): on Airflow 2 this file imports but
defines no DAG. The DAG must be unpaused for its watcher to run (Airflow starts the watchers of
unpaused DAGs' assets only).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, AirflowSkipException, Param, task

from airflow_provider_bc.transfers.business_central_to_object_storage import BusinessCentralToObjectStorageOperator
from airflow_provider_bc.triggers.new_entities import BusinessCentralNewEntitiesTrigger

try:
    from airflow.sdk import AssetWatcher
except ImportError:  # Airflow 2: no asset watchers
    AssetWatcher = None

COMPANY_ID = os.environ.get("BC_COMPANY_ID", "3e5a0f1c-52ff-eb11-bb76-000d3a220646")  # the emulator's default
POLL_INTERVAL = float(os.environ.get("BC_POLL_INTERVAL", "60"))
DESTINATION = os.environ.get("BC_LAKE", "file:///tmp/bc-lake-posted")
ENTITY_SET = "itemLedgerEntries"


def signalled_entries(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a run extracts, from its events' payloads: the union of their ranges (they adjoin; a
    repeat, the same ``idempotency_key``, counts once), its OData filter and its run folder's name."""
    unique = {event["idempotency_key"]: event for event in events}
    low, high = min(e["from"] for e in unique.values()), max(e["to"] for e in unique.values())
    return {
        "from": low,
        "to": high,
        "count": sum(e["count"] for e in unique.values()),
        "filter": f"entryNumber gt {low} and entryNumber le {high}",
        "run_name": f"entries-{low}-{high}",
        "idempotency_keys": sorted(unique),
        "events": events,
    }


if AssetWatcher is not None:
    from airflow.sdk import Asset

    posted_entries = Asset(
        f"business_central://{COMPANY_ID}/{ENTITY_SET}",
        watchers=[
            AssetWatcher(
                name="posted_item_ledger_entries",
                trigger=BusinessCentralNewEntitiesTrigger(
                    company_id=COMPANY_ID,
                    entity_set=ENTITY_SET,  # a ledger: watched by entryNumber
                    poll_interval=POLL_INTERVAL,
                ),
            )
        ],
    )

    with DAG(
        dag_id="bc_extract_posted_entries",
        schedule=[posted_entries],
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        params={"destination": Param(DESTINATION, type="string", description="object storage URI")},
        tags=["business-central", "extraction", "event-driven"],
    ) as dag:

        @task
        def signalled_range(triggering_asset_events: Any = None) -> dict[str, Any]:
            """The entries this run is for (see :func:`signalled_entries`); skipped for a run with no event."""
            events = [event.extra["payload"] for event in (triggering_asset_events or {}).get(posted_entries, [])]
            if not events:
                raise AirflowSkipException("no event: this DAG runs when entries are posted")
            return signalled_entries(events)

        BusinessCentralToObjectStorageOperator(
            task_id="extract",
            company_id=COMPANY_ID,
            entity_set=ENTITY_SET,
            destination="{{ params.destination }}",
            filter="{{ ti.xcom_pull(task_ids='signalled_range')['filter'] }}",
            run_name="{{ ti.xcom_pull(task_ids='signalled_range')['run_name'] }}",
            cursor="full",
            max_streams=1,
        ).set_upstream(signalled_range())
