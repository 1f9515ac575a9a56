"""Daily incremental extraction of the item ledger of every company into object storage.

``list_companies`` finds the companies; one mapped extraction task per company reads the item
ledger entries changed since its previous run (``last_modified`` cursor: from the settled mark of
the previous run's manifest, its planned time less ``commit_lag``, 15 minutes by default, so that a
posting still open then is read when it commits; the first run reads everything, including
entries never modified since system fields were added) and writes gzipped NDJSON to
``<destination>/itemLedgerEntries/company=<id>/<run id>/``, ``_manifest.json`` last.

``restate_days`` re-reads the entries posted in the last 3 days on every run: their
``costAmountActual``/``salesAmountActual`` are sums over value entries and change (a cost
adjustment) without ``lastModifiedDateTime`` changing.

Across workers, the ``business_central`` pool (5 slots: Business Central runs 5 requests of a
principal at once) bounds the requests in flight: each task takes as many slots as it opens
streams. Create it once: ``airflow pools set business_central 5 "Business Central API"``.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_bc.transfers.business_central_to_object_storage import BusinessCentralToObjectStorageOperator

STREAMS = 5

with DAG(
    dag_id="bc_extract_item_ledger",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"destination": Param("file:///tmp/bc-lake", type="string", description="object storage URI")},
    tags=["business-central", "extraction"],
) as dag:

    @task
    def companies() -> list[str]:
        """The ids of the environment's companies."""
        from airflow_provider_bc.hooks.business_central import BusinessCentralHook

        return [company["id"] for company in BusinessCentralHook().list_companies()]

    BusinessCentralToObjectStorageOperator.partial(
        task_id="extract",
        destination="{{ params.destination }}",
        cursor="last_modified",
        restate_days=3,
        max_streams=STREAMS,
        pool="business_central",
        pool_slots=STREAMS,
    ).expand(company_id=companies())
