"""An operator that reads many Business Central entities at once into XCom (``$batch`` requests).

A module of its own: DAG files importing ``operators.business_central`` do not pay for it."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_bc.hooks.names import DEFAULT_CONN_ID
from airflow_provider_bc.tasks.entity_arguments import EntitySetArguments

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class BusinessCentralGetEntitiesOperator(EntitySetArguments, BaseOperator):
    """Read many entities, by id or by the values of one field, and return them as a dict (XCom).

    By id: ``{id: entity or None}`` (each id as given). By ``match_field`` and ``match_values``:
    ``{value: [matching entities]}`` (``[]`` for none). Read through the hook's ``get_entities`` /
    ``find_many``: up to 100 reads per ``$batch`` request. A malformed or empty argument fails the
    task before any request, without retries; throttling and outages are left to task retries.

    :param entity_set: entity set, e.g. ``itemLedgerEntries`` (templated)
    :param entity_ids: list of ids (GUIDs) (templated; e.g. an upstream task's ``.output``)
    :param match_field: the field ``match_values`` are values of, e.g. ``documentNumber`` (templated)
    :param match_values: list of values (text or whole numbers) (templated)
    :param company_id: company GUID; defaults to the connection's (templated)
    :param select: fields to return, a list or comma-separated string (templated)
    :param business_central_conn_id: the ``business_central`` connection
    """

    template_fields: Sequence[str] = ("entity_set", "entity_ids", "match_field", "match_values", "company_id", "select")
    ui_color = "#00b7c3"

    def __init__(
        self,
        *,
        entity_set: str,
        entity_ids: Sequence[str] | None = None,
        match_field: str | None = None,
        match_values: Sequence[Hashable] | None = None,
        company_id: str | None = None,
        select: Sequence[str] | str | None = None,
        business_central_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (entity_ids is None) == (match_values is None) or (match_field is None) != (match_values is None):
            from airflow_provider_bc.client.errors import BusinessCentralQueryError

            raise BusinessCentralQueryError("entity_ids", "give entity_ids, or match_field and match_values")
        self._keep_set_arguments(entity_set, company_id, select, business_central_conn_id)
        self.entity_ids = entity_ids
        self.match_field = match_field
        self.match_values = match_values

    def execute(self, context: Context) -> dict[Any, Any]:
        from airflow_provider_bc.client.batch.lookup import BatchLookup, Progress
        from airflow_provider_bc.hooks.business_central import BusinessCentralHook
        from airflow_provider_bc.tasks.waiting import failing_task

        by_id = self.entity_ids is not None
        with failing_task(self.task_id):
            lookup = BatchLookup.build(
                self.entity_set,
                self.entity_ids if by_id else self.match_values,
                None if by_id else self.match_field,
                company_id=self.company_id,
                select=self.select,
            )
            found = BusinessCentralHook(self.business_central_conn_id).client.read_keys(lookup, lookup.keys)
        progress = Progress(lookup)
        progress.take(found)
        self.log.info("Read %s", progress.report())
        return found
