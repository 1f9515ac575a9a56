"""Daily reconciliation of the item ledger with a warehouse table.

For each data interval (one day, ``postingDate`` from its start to before its end):

1. ``extract``: the day's item ledger entries (an OData filter templated from the interval) into the
   lake (``lake`` param, any ``ObjectStoragePath`` URL), gzipped NDJSON with a ``_manifest.json``;
2. ``load``: the files the manifest lists into the warehouse table ``item_ledger_entries`` through
   the ``warehouse`` connection (any ``common.sql`` database: SQLite, PostgreSQL ...; the table is
   created if missing). The day's rows are replaced in one transaction with bound parameters, so a
   rerun loads them again instead of adding them twice. The table's columns are named its own way
   (``entry_no``, ``item_no`` ...): the reconciliation maps them (``columns``);
3. ``reconcile``: ``BusinessCentralReconcileOperator`` compares the warehouse's rows of the day with
   Business Central's, matched by ``entryNumber``: entries missing from the warehouse, extra there (say
   deleted in Business Central since), doubled, or with ``quantity`` (exact) or ``costAmountActual``
   (within 0.01) changed; the totals per day and item of both fields, which catch a drift of many rows
   each within the tolerance; the newest ``lastModifiedDateTime`` on each side. Entry numbers Business
   Central skipped (gaps of its sequences) are counted apart, never as missing. The report
   (``report.json`` and ``report.html``) goes to ``<report_destination>/<run id>/``; any difference
   fails the task, without retries, once the report is written.

In production your own pipeline loads the warehouse and the reconciliation checks what it loaded;
this DAG loads it itself to be complete. With the ``reload`` param false, the extraction and the
load are skipped and the warehouse is reconciled as it is. Each try of ``extract`` reads anew
(its folder is the run id and the try), so a cleared run loads what Business Central holds then.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_bc.operators.reconcile import BusinessCentralReconcileOperator
from airflow_provider_bc.transfers.business_central_to_object_storage import BusinessCentralToObjectStorageOperator

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2
    from airflow.timetables.interval import CronDataIntervalTimetable

WAREHOUSE_CONN_ID = "warehouse"
TABLE = "item_ledger_entries"
#: Business Central field -> the warehouse table's column
COLUMNS = {
    "entryNumber": "entry_no",
    "itemNumber": "item_no",
    "postingDate": "posting_date",
    "quantity": "quantity",
    "costAmountActual": "cost_amount_actual",
    "lastModifiedDateTime": "last_modified_at",
}
NUMBERS = ("quantity", "costAmountActual")  # loaded as their exact text, never through a float
CREATE_TABLE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    entry_no BIGINT NOT NULL,
    item_no VARCHAR(20) NOT NULL,
    posting_date DATE NOT NULL,
    quantity NUMERIC(38, 18),
    cost_amount_actual NUMERIC(38, 18),
    last_modified_at TIMESTAMP WITH TIME ZONE
)"""
START, END = "{{ data_interval_start | ds }}", "{{ data_interval_end | ds }}"

with DAG(
    dag_id="bc_reconcile_item_ledger",
    # a real [start, end) interval per run (Airflow 3's plain "@daily" gives zero-length intervals)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2022, 6, 1, tz="UTC"),
    catchup=False,
    params={
        "lake": Param("file:///tmp/bc-reconcile-lake", type="string", description="object storage URI"),
        "report_destination": Param("file:///tmp/bc-reconciliation", type="string", description="reports' folder"),
        "reload": Param(True, type="boolean", description="false: reconcile the warehouse as it is"),
    },
    tags=["business-central", "example", "reconciliation"],
) as dag:

    @task.short_circuit(ignore_downstream_trigger_rules=False)  # skips extract and load; reconcile still runs
    def reload_wanted(params: dict[str, Any] | None = None) -> bool:
        """Whether to extract and load the day again (the ``reload`` param)."""
        return bool((params or {}).get("reload", True))

    extract = BusinessCentralToObjectStorageOperator(
        task_id="extract",
        destination="{{ params.lake }}",
        filter=f"postingDate ge {START} and postingDate lt {END}",
        select=list(COLUMNS),
        cursor="full",
        run_name="{{ run_id }}-try{{ ti.try_number }}",
    )

    @task
    def load(extracted: dict[str, Any], start: str, end: str) -> dict[str, Any]:
        """Replace the warehouse's rows posted from ``start`` to before ``end`` with the files of the run's manifest."""
        import gzip
        import json
        from collections.abc import Iterator
        from decimal import Decimal

        from airflow.providers.common.compat.sdk import BaseHook, ObjectStoragePath

        manifest_path = ObjectStoragePath(extracted["manifest"])
        manifest = json.loads(manifest_path.read_text())
        loaded = 0

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal loaded
            for part in manifest["files"]:
                data = (manifest_path.parent / part["name"]).read_bytes()
                if manifest["format"]["compression"] == "gzip":
                    data = gzip.decompress(data)
                for line in data.splitlines():
                    entry = json.loads(line, parse_float=Decimal)
                    loaded += 1
                    yield tuple(str(entry[f]) if f in NUMBERS else entry[f] for f in COLUMNS)

        hook = BaseHook.get_connection(WAREHOUSE_CONN_ID).get_hook()
        mark = hook.placeholder  # the driver's: "?" (SQLite), "%s" (PostgreSQL)
        # the names are this file's constants; every value is a bound parameter
        delete = f"DELETE FROM {TABLE} WHERE posting_date >= {mark} AND posting_date < {mark}"  # noqa: S608
        insert = f"INSERT INTO {TABLE} ({', '.join(COLUMNS.values())}) VALUES ({', '.join([mark] * len(COLUMNS))})"  # noqa: S608
        connection = hook.get_conn()
        try:
            cursor = connection.cursor()
            cursor.execute(CREATE_TABLE)
            cursor.execute(delete, (start, end))
            cursor.executemany(insert, rows())
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
        print(f"Loaded {loaded} entries posted from {start} to before {end} into {TABLE}")
        return {"table": TABLE, "rows": loaded, "start": start, "end": end}

    reconcile = BusinessCentralReconcileOperator(
        task_id="reconcile",
        warehouse_conn_id=WAREHOUSE_CONN_ID,
        table=TABLE,
        columns=COLUMNS,
        # window: postingDate over the data interval's days (the default)
        fields={"quantity": None, "costAmountActual": {"absolute": "0.01"}},  # None: exact
        totals_by=["postingDate", "itemNumber"],
        freshness="lastModifiedDateTime",
        report_destination="{{ params.report_destination }}",
        trigger_rule="none_failed",  # also when reload_wanted skipped extract and load
    )

    reload_wanted() >> extract
    load(extract.output, start=START, end=END) >> reconcile
