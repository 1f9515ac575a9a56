"""Backfill of one company's whole item ledger as Parquet, split into entry-number ranges that
mapped tasks read in parallel (on as many workers as the executor has), bounded by the pool.

``ranges`` asks Business Central for the lowest and highest ``entryNumber`` (``$top=1``) and cuts
the span into ``partitions`` ranges; each mapped task extracts one range with one stream and
takes one slot of the ``business_central`` pool (5 slots: at most 5 requests in flight for the
principal, whatever the number of workers). Each range lands in its own run folder
(``<run id>-map<i>``) with its own manifest.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_bc.transfers.business_central_to_object_storage import BusinessCentralToObjectStorageOperator

with DAG(
    dag_id="bc_backfill_item_ledger",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    params={
        "destination": Param("file:///tmp/bc-lake-backfill", type="string", description="object storage URI"),
        "partitions": Param(10, type="integer", minimum=1, maximum=1000),
    },
    tags=["business-central", "extraction"],
) as dag:

    @task
    def ranges(params: dict | None = None) -> list[str]:  # type: ignore[type-arg]
        """OData filters of ``partitions`` entry-number ranges covering the whole ledger."""
        from airflow_provider_bc.client.key_ranges import key_span, range_filters
        from airflow_provider_bc.hooks.business_central import BusinessCentralHook

        span = key_span(BusinessCentralHook().client, "itemLedgerEntries")
        return range_filters(*span, int((params or {})["partitions"])) if span else []

    BusinessCentralToObjectStorageOperator.partial(
        task_id="extract_range",
        destination="{{ params.destination }}",
        format="parquet",
        max_streams=1,
        pool="business_central",
        pool_slots=1,
    ).expand(filter=ranges())
