"""Extract a Business Central collection (a whole ledger, or what changed since the last run) into
object storage through Airflow's ``ObjectStoragePath``: NDJSON or Parquet, in parallel streams."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Asset, BaseOperator

from airflow_provider_bc.client.entity_sets import ITEM_LEDGER_ENTRIES
from airflow_provider_bc.hooks.names import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_bc.extraction.spec import ExtractionSpec


_DEFAULT_POOL = "default_pool"


class BusinessCentralToObjectStorageOperator(BaseOperator):
    """Extract ``entity_set`` of one company to ``destination`` and return a summary (XCom).

    Files land in ``<destination>/<entity_set>/company=<id>/<run>/`` with ``_manifest.json``
    written last; a retried task resumes from the run's checkpoint. The summary holds ``files``,
    ``rows``, ``bytes``, ``watermark`` and ``manifest`` (its URI).

    :param destination: an object storage URI (``file://``, ``s3://``, ``abfs://``, ``gs://`` ...) (templated)
    :param destination_conn_id: the connection of the object store (e.g. an ``aws`` connection for ``s3://``)
    :param entity_set: the collection to read (templated)
    :param company_id: company GUID; defaults to the connection's (templated)
    :param filter: an OData filter every row must match (templated)
    :param select: columns to keep, a list or comma-separated text (templated); the columns the
        cursor and the partitions need are added
    :param format: ``ndjson`` (gzip unless ``gzip=False``) or ``parquet`` (the ``[parquet]`` extra) (templated)
    :param rows_per_file: a file is closed at the first page boundary past this many rows
    :param max_streams: requests in flight at once, 1 to 5 (Business Central's limit per principal),
        planning included; never more than the task's ``pool_slots`` when it is in a pool of fewer slots
    :param page_size: rows per page asked of the API (``Prefer: odata.maxpagesize``)
    :param cursor: ``full``, ``entry_number`` (rows appended since the last run) or
        ``last_modified`` (rows changed since the last run) (templated)
    :param cursor_start: the lower bound instead of the last run's settled mark: an entry number
        (also as text) or a time (templated)
    :param commit_lag: how long a posting may stay uncommitted, plus clock skew (default 15 minutes:
        Business Central ends a request after 10): what an incremental run reads again
    :param use_data_interval: ``last_modified`` rows of the DAG run's data interval exactly
    :param restate_days: also re-read the rows posted in the trailing days (FlowFields such as
        ``costAmountActual`` change without ``lastModifiedDateTime``)
    :param tombstones: also write the run's key set (``_keys.ndjson.gz``: every id of the query,
        read with ``$select=id`` after the rows, plus the ids delivered) and ``_tombstones.ndjson.gz``:
        the ids of the previous run's key set gone now (deleted in Business Central), both listed in
        the manifest (``keys``, ``tombstones``; ``tombstones`` is null on the series' first run).
        Needs ``id`` in ``select``; holds the query's ids in memory (about 100 bytes each)
    :param run_name: the run's folder (templated); default: the DAG run id, plus the map index
    :param emit_asset: declare ``<destination>/<entity_set>`` as an outlet Asset
    :param business_central_conn_id: the ``business_central`` connection
    """

    template_fields: Sequence[str] = (
        "destination",
        "entity_set",
        "company_id",
        "filter",
        "select",
        "format",
        "cursor",
        "cursor_start",
        "run_name",
    )
    ui_color = "#00b7c3"

    def __init__(
        self,
        *,
        destination: str,
        destination_conn_id: str | None = None,
        entity_set: str = ITEM_LEDGER_ENTRIES,
        company_id: str | None = None,
        filter: str | None = None,
        select: Sequence[str] | str | None = None,
        format: str = "ndjson",
        gzip: bool = True,
        rows_per_file: int = 100_000,
        max_streams: int = 5,
        page_size: int = 5_000,
        cursor: str = "full",
        cursor_start: Any = None,
        commit_lag: dt.timedelta | None = None,
        use_data_interval: bool = False,
        restate_days: int = 0,
        tombstones: bool = False,
        run_name: str | None = None,
        emit_asset: bool = False,
        business_central_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        if emit_asset:
            if "{{" in destination or "{{" in entity_set:
                raise ValueError(
                    f"{kwargs.get('task_id')}: emit_asset needs a destination and entity_set without templates"
                )
            kwargs["outlets"] = [*kwargs.get("outlets", []), Asset(f"{destination.rstrip('/')}/{entity_set}")]
        super().__init__(**kwargs)
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.entity_set = entity_set
        self.company_id = company_id
        self.filter = filter
        self.select = select
        self.format = format
        self.gzip = gzip
        self.rows_per_file = rows_per_file
        self.max_streams = max_streams
        self.page_size = page_size
        self.cursor = cursor
        self.cursor_start = cursor_start
        self.commit_lag = commit_lag
        self.use_data_interval = use_data_interval
        self.restate_days = restate_days
        self.tombstones = tombstones
        self.run_name = run_name
        self.emit_asset = emit_asset
        self.business_central_conn_id = business_central_conn_id
        self._lineage: dict[str, Any] = {}

    def _spec(self, context: Context, company_id: str) -> ExtractionSpec:
        from airflow_provider_bc.client.odata.filters import select_fields
        from airflow_provider_bc.extraction.cursors import CursorOptions
        from airflow_provider_bc.extraction.spec import ExtractionSpec

        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        interval = (start, end) if self.use_data_interval and start and end else None
        if self.use_data_interval and interval is None:
            from airflow_provider_bc.client.errors import BusinessCentralQueryError

            raise BusinessCentralQueryError("use_data_interval", "this DAG run has no data interval (a manual run?)")
        cursor = CursorOptions(
            kind=self.cursor,  # type: ignore[arg-type]  # checked by CursorOptions
            start=self.cursor_start if self.cursor_start not in ("", None, "None") else None,  # "None": rendered
            **({"commit_lag": self.commit_lag} if self.commit_lag is not None else {}),
            interval=interval,
            restate_days=self.restate_days,
            today=end.date() if end else None,
        )
        map_index = getattr(context.get("ti"), "map_index", -1)
        run_name = self.run_name or str(context["run_id"]) + (f"-map{map_index}" if map_index >= 0 else "")
        return ExtractionSpec(
            entity_set=self.entity_set,
            company_id=company_id,
            run_name=run_name,
            filter=self.filter or None,
            select=select_fields(self.select) if self.select else None,
            output_format=self.format,  # type: ignore[arg-type]  # checked by ExtractionSpec
            compress=self.gzip,
            rows_per_file=self.rows_per_file,
            max_streams=self._streams(),
            page_size=self.page_size,
            cursor=cursor,
            tombstones=self.tombstones,
        )

    def _streams(self) -> int:
        """``max_streams``, but no more than the pool slots the task holds (the pool is the limit across workers)."""
        slots = self.pool_slots if isinstance(self.pool_slots, int) and self.pool_slots >= 1 else self.max_streams
        if isinstance(self.max_streams, int) and slots < self.max_streams and self.pool != _DEFAULT_POOL:
            self.log.info("max_streams %d lowered to pool_slots %d (pool %s)", self.max_streams, slots, self.pool)
            return slots
        return self.max_streams

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        from airflow_provider_bc.client.errors import BusinessCentralError
        from airflow_provider_bc.extraction.run import Extraction
        from airflow_provider_bc.hooks.business_central import BusinessCentralHook
        from airflow_provider_bc.tasks.outcomes import task_failure

        hook = BusinessCentralHook(self.business_central_conn_id)
        try:
            settings = hook.settings
            company_id = hook.company_id(self.company_id)
            spec = self._spec(context, company_id)
            destination = ObjectStoragePath(self.destination, conn_id=self.destination_conn_id)
            extraction = Extraction(spec, destination, hook.new_client)
            manifest = extraction.run()
        except BusinessCentralError as error:
            raise task_failure(error, self.task_id) from None
        self._lineage = {
            "namespace": f"businesscentral://{settings.tenant_id}/{settings.environment}",
            "name": f"{company_id}.{spec.entity_set}",
            "schema": manifest["schema"],
            "output": str(extraction.folder),
        }
        return {
            "files": len(manifest["files"]),
            "rows": manifest["rows"],
            "bytes": manifest["bytes"],
            "watermark": manifest["cursor"].get("watermark"),
            "manifest": str(extraction.folder / "_manifest.json"),
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage input (the Business Central collection, with its schema) and output (the run folder);
        ``None`` when the OpenLineage provider is not installed or nothing ran."""
        from airflow_provider_bc.tasks.lineage import operator_lineage

        if not self._lineage:
            return None
        source = (self._lineage["namespace"], self._lineage["name"], self._lineage["schema"])
        return operator_lineage([source], self._lineage["output"])
