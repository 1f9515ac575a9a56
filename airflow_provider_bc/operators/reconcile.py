"""Reconcile a Business Central entity set against a warehouse table: what is missing, extra,
doubled or changed, the totals per group, and a report a person reads."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowFailException, Asset, BaseOperator

from airflow_provider_bc.client.entity_sets import ITEM_LEDGER_ENTRIES
from airflow_provider_bc.hooks.names import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_bc.reconciliation.spec import ReconcileSpec


class BusinessCentralReconcileOperator(BaseOperator):
    """Compare ``entity_set`` of a company with a warehouse table (or query) row by row, and return a summary.

    Both sides are restricted to the window (``window_field`` from ``window_start`` to before
    ``window_end``; by default the DAG run's data interval on ``postingDate``). Rows are matched by
    ``key``; ``fields`` are compared within their tolerance. The report (JSON and a self-contained
    HTML page) goes to ``report_destination``. The task fails, without retries, when a kind of
    difference exceeds its ``fail_on`` threshold; a warehouse or Business Central that cannot be
    reached is retried like any task.

    :param warehouse_conn_id: a ``common.sql`` connection (PostgreSQL, SQLite, Snowflake ...)
    :param table: the warehouse table, ``schema.table`` (templated); or ``query``
    :param query: a SELECT whose columns are the compared fields (templated); or ``table``
    :param columns: the warehouse column of each Business Central field that is named otherwise
    :param entity_set: the Business Central collection (templated)
    :param company_id: company GUID; defaults to the connection's (templated)
    :param key: the field matching rows: ``entryNumber`` (ledgers: streamed in key order) or any other
        (``id``, ``number``: both sides read whole and sorted)
    :param fields: the fields compared: a list (exact) or ``{field: tolerance}``, a tolerance being a
        number (absolute) or ``{"absolute": .., "relative": ..}``; exact ``Decimal`` arithmetic
    :param totals_by: fields whose groups get totals of the numeric ``fields`` on both sides
    :param freshness: a time field whose newest value is reported per side (e.g. ``lastModifiedDateTime``)
    :param window_field: the field of the window (``None``: no window)
    :param window_start: the window's first value, a date or an ISO time (templated); default: the data
        interval's start (a date, unless the field's name ends in ``DateTime``)
    :param window_end: the value after the window (templated); default: the data interval's end
    :param filter: an OData filter Business Central's rows must match too (templated; not applied to the warehouse)
    :param strategy: ``full`` (every row merged), ``counts`` (``$count`` per key range, splitting those
        that differ: keys only) or ``auto`` (``counts`` when there are no fields, totals or freshness to read)
    :param fail_on: ``{kind: most allowed}`` for kinds ``missing``, ``extra``, ``duplicate``,
        ``changed``, ``totals``; default: none of any
    :param samples: the examples of each kind in the report (every count is exact)
    :param max_streams: Business Central requests in flight at once, 1 to 5
    :param report_destination: an object storage folder for ``report.json`` and ``report.html`` (templated)
    :param report_conn_id: the connection of that object store
    :param emit_asset: declare ``report_destination`` as an outlet Asset
    :param business_central_conn_id: the ``business_central`` connection
    """

    template_fields: Sequence[str] = (
        "table",
        "query",
        "entity_set",
        "company_id",
        "window_start",
        "window_end",
        "filter",
        "report_destination",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"query": "sql"}
    ui_color = "#00b7c3"

    def __init__(
        self,
        *,
        warehouse_conn_id: str,
        table: str | None = None,
        query: str | None = None,
        columns: Mapping[str, str] | None = None,
        entity_set: str = ITEM_LEDGER_ENTRIES,
        company_id: str | None = None,
        key: str = "entryNumber",
        fields: Mapping[str, Any] | Sequence[str] | None = None,
        totals_by: Sequence[str] | None = None,
        freshness: str | None = None,
        window_field: str | None = "postingDate",
        window_start: Any = None,
        window_end: Any = None,
        filter: str | None = None,
        strategy: str = "auto",
        fail_on: Mapping[str, int] | None = None,
        samples: int = 20,
        max_streams: int = 5,
        report_destination: str | None = None,
        report_conn_id: str | None = None,
        emit_asset: bool = False,
        business_central_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_bc.reconciliation.report import fail_on_of

        if emit_asset:
            if not report_destination or "{{" in report_destination:
                raise ValueError(f"{kwargs.get('task_id')}: emit_asset needs a report_destination without templates")
            kwargs["outlets"] = [*kwargs.get("outlets", []), Asset(report_destination.rstrip("/"))]
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id
        self.table = table
        self.query = query
        self.columns = dict(columns or {})
        self.entity_set = entity_set
        self.company_id = company_id
        self.key = key
        self.fields = fields
        self.totals_by = totals_by
        self.freshness = freshness
        self.window_field = window_field
        self.window_start = window_start
        self.window_end = window_end
        self.filter = filter
        self.strategy = strategy
        self.fail_on = fail_on_of(fail_on)  # checked when the DAG is parsed
        self.samples = samples
        self.max_streams = max_streams
        self.report_destination = report_destination
        self.report_conn_id = report_conn_id
        self.business_central_conn_id = business_central_conn_id
        self._lineage: dict[str, Any] = {}

    def _window(self, context: Context) -> tuple[Any, Any, Any] | None:
        """The window's field and bounds: as given, else the data interval's (dates for a date field)."""
        if not self.window_field:
            return None
        start, end = self.window_start, self.window_end
        if start in (None, "", "None") or end in (None, "", "None"):
            from airflow_provider_bc.reconciliation.errors import ReconciliationError

            first, after = context.get("data_interval_start"), context.get("data_interval_end")
            if first is None or after is None:
                raise ReconciliationError(
                    "window_start", "give window_start and window_end: this run has no data interval"
                )
            times = self.window_field.endswith("DateTime")
            start, end = (first, after) if times else (first.date(), after.date())
            if not times and start == end:  # an interval within one day: that day
                end = start + dt.timedelta(days=1)
        return self.window_field, start, end

    def _spec(self, context: Context, company_id: str) -> ReconcileSpec:
        from airflow_provider_bc.reconciliation.spec import build_spec

        return build_spec(
            entity_set=self.entity_set,
            company_id=company_id,
            key=self.key,
            fields=self.fields,
            window=self._window(context),
            filter=self.filter,
            totals_by=self.totals_by,
            freshness=self.freshness,
            strategy=self.strategy,
            samples=self.samples,
            max_streams=self.max_streams,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_bc.client.thread_clients import ThreadClients
        from airflow_provider_bc.hooks.business_central import BusinessCentralHook
        from airflow_provider_bc.reconciliation.business_central import BusinessCentralSide
        from airflow_provider_bc.reconciliation.report import summary_line
        from airflow_provider_bc.reconciliation.run import Reconciliation
        from airflow_provider_bc.reconciliation.warehouse import WarehouseSource
        from airflow_provider_bc.tasks.waiting import failing_task
        from airflow_provider_bc.tasks.warehouse_hooks import dbapi_hook, namespace_of, warehouse_of

        with failing_task(self.task_id):
            source = WarehouseSource(table=self.table or None, query=self.query or None, columns=self.columns)
            hook = BusinessCentralHook(self.business_central_conn_id)
            settings = hook.settings
            spec = self._spec(context, hook.company_id(self.company_id))
            sql_hook = dbapi_hook(self.warehouse_conn_id)
            warehouse = warehouse_of(sql_hook, source, self.warehouse_conn_id)
            clients = ThreadClients(hook.new_client)
            try:
                report = Reconciliation(spec, BusinessCentralSide(spec, clients), warehouse).run(
                    self.fail_on,
                    description={"warehouse": {"connection": self.warehouse_conn_id, "source": source.describe()}},
                )
            finally:
                clients.close()
                warehouse.close()
        self._lineage = {
            "inputs": [
                (
                    f"businesscentral://{settings.tenant_id}/{settings.environment}",
                    f"{spec.company_id}.{spec.entity_set}",
                    None,
                ),
                (namespace_of(sql_hook, self.warehouse_conn_id), source.describe(), None),
            ]
        }
        written = self._write(report, context)
        line = summary_line(report)
        if report["failed"]:
            self.log.error("Reconciliation failed (%s): %s", "; ".join(report["failed"]), line)
            raise AirflowFailException(f"{self.task_id}: reconciliation failed ({'; '.join(report['failed'])}): {line}")
        self.log.info("Reconciled: %s", line)
        return {
            "passed": True,
            "strategy": report["strategy"],
            "rows": report["rows"],
            "counts": report["counts"],
            "gaps": report["gaps"],
            **written,
        }

    def _write(self, report: Mapping[str, Any], context: Context) -> dict[str, str]:
        """``report.json`` and ``report.html`` in ``report_destination``/<run id> (none without a destination)."""
        if not self.report_destination:
            return {}
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        from airflow_provider_bc.reconciliation.html_report import render_html

        folder = ObjectStoragePath(self.report_destination, conn_id=self.report_conn_id) / str(context["run_id"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
        (folder / "report.html").write_text(render_html(report), encoding="utf-8")
        self.log.info("Report: %s", folder / "report.html")
        self._lineage["output"] = str(folder)
        return {"report": str(folder / "report.json"), "html": str(folder / "report.html")}

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage inputs (the Business Central collection and the warehouse table) and output (the
        report's folder); ``None`` when the OpenLineage provider is not installed or nothing ran."""
        from airflow_provider_bc.tasks.lineage import operator_lineage

        if not self._lineage:
            return None
        return operator_lineage(self._lineage["inputs"], self._lineage.get("output"))
