"""Sensors that wait until a Business Central entity exists: poke, reschedule or deferrable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseSensorOperator

from airflow_provider_bc.client.entity_sets import ITEM_LEDGER_ENTRIES
from airflow_provider_bc.hooks.names import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, PokeReturnValue

    from airflow_provider_bc.client.odata.lookup import Lookup


class BusinessCentralEntitySensor(BaseSensorOperator):
    """Wait until an entity exists: by id, or by an OData ``filter`` and/or a ``match`` mapping.

    When found, the XCom value is the entity (by id) or the list of up to ``max_records``
    matching entities (by filter). An empty answer or a missing entity means "not yet";
    throttling and outages are logged and waiting goes on; wrong credentials, permissions, an
    unknown company or a malformed request (an empty filter or match too) fail the task at once.

    :param entity_set: entity set, e.g. ``itemLedgerEntries`` (templated)
    :param entity_id: the id (GUID) to wait for (templated)
    :param filter: an OData filter string (templated)
    :param match: ``{"documentNumber": "108001", "postingDate": date(2024, 1, 31)}``: equality
        clauses built with safe literal formatting, joined with ``and`` (templated)
    :param company_id: company GUID; defaults to the connection's (templated)
    :param select: fields to return (templated)
    :param max_records: how many matching entities to return when waiting on a filter
    :param decode_enum_values: decode ``_x0020_``-encoded enum values in the result
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``, read when the task runs)
    """

    template_fields: Sequence[str] = ("entity_set", "entity_id", "filter", "match", "company_id", "select")
    ui_color = "#00b7c3"

    def __init__(
        self,
        *,
        entity_set: str,
        entity_id: str | None = None,
        filter: str | None = None,
        match: Mapping[str, Any] | None = None,
        company_id: str | None = None,
        select: Sequence[str] | str | None = None,
        max_records: int = 1,
        decode_enum_values: bool = False,
        business_central_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (entity_id is None) == (filter is None and match is None):
            raise ValueError(f"{self.task_id}: give entity_id, or filter and/or match, but not both")
        self.entity_set = entity_set
        self.entity_id = entity_id
        self.filter = filter
        self.match = match
        self.company_id = company_id
        self.select = select
        self.max_records = max_records
        self.decode_enum_values = decode_enum_values
        self.business_central_conn_id = business_central_conn_id
        self.deferrable = deferrable

    def _lookup(self) -> Lookup:
        """The rendered arguments as one checked lookup (an empty filter or match fails the task)."""
        from airflow_provider_bc.client.odata.lookup import Lookup
        from airflow_provider_bc.tasks.waiting import failing_task

        with failing_task(self.task_id):
            return Lookup.build(
                self.entity_set,
                entity_id=self.entity_id,
                filter=self.filter,
                match=self.match,
                company_id=self.company_id,
                select=self.select,
                top=self.max_records,
            )

    def _result(self, records: list[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
        if self.decode_enum_values:
            from airflow_provider_bc.client.odata.filters import decode_enums

            records = [decode_enums(record) for record in records]
        return records[0] if self.entity_id is not None else records

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow.providers.common.compat.sdk import PokeReturnValue

        from airflow_provider_bc.hooks.business_central import BusinessCentralHook
        from airflow_provider_bc.tasks.waiting import check_or_wait

        lookup = self._lookup()
        hook = BusinessCentralHook(self.business_central_conn_id)
        records = check_or_wait(lambda: hook.lookup(lookup), self.task_id, self.log)
        if not records:
            self.log.info("No %s yet", lookup.describe())
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._result(records))

    def execute(self, context: Context) -> Any:
        from airflow_provider_bc.tasks.waiting import defers, execute_deferrable

        if not defers(self.deferrable):
            return super().execute(context)
        from airflow_provider_bc.triggers.business_central import BusinessCentralEntityTrigger

        return execute_deferrable(
            self,
            context,
            lambda timeout: BusinessCentralEntityTrigger.waiting_for(
                self._lookup(),
                business_central_conn_id=self.business_central_conn_id,
                poll_interval=float(self.poke_interval),
                timeout=timeout,
            ),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger fired: return the records, or fail with its reason."""
        from airflow_provider_bc.tasks.waiting import trigger_result

        return self._result(trigger_result(event, self.task_id, self.timeout)["records"])


class BusinessCentralItemLedgerEntrySensor(BusinessCentralEntitySensor):
    """Wait until an item ledger entry exists, by ``entry_id`` (templated), ``filter`` or ``match``: the
    entity sensor with ``entity_set="itemLedgerEntries"``; the other arguments are the entity sensor's."""

    template_fields: Sequence[str] = ("entity_id", "filter", "match", "company_id", "select")

    def __init__(self, *, entry_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(entity_set=ITEM_LEDGER_ENTRIES, entity_id=entry_id, **kwargs)
