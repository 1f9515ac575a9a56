"""Operators that fetch Business Central entities into XCom."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_bc.client.entity_sets import ITEM_LEDGER_ENTRIES
from airflow_provider_bc.hooks.names import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class BusinessCentralGetEntityOperator(BaseOperator):
    """Fetch one entity by id and return it (so it lands in XCom as ``return_value``).

    :param entity_set: the API's entity set, e.g. ``itemLedgerEntries`` (templated)
    :param entity_id: the entity's id, a GUID (templated: may come from an upstream XCom)
    :param company_id: company GUID; defaults to the connection's ``company_id`` (templated)
    :param select: fields to return, a list or comma-separated string (templated)
    :param decode_enum_values: decode enum values (``Positive_x0020_Adjmt_x002E_`` -> ``Positive Adjmt.``)
    :param business_central_conn_id: the ``business_central`` connection
    """

    template_fields: Sequence[str] = ("entity_set", "entity_id", "company_id", "select")
    ui_color = "#00b7c3"

    def __init__(
        self,
        *,
        entity_set: str,
        entity_id: str,
        company_id: str | None = None,
        select: Sequence[str] | str | None = None,
        decode_enum_values: bool = False,
        business_central_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.entity_set = entity_set
        self.entity_id = entity_id
        self.company_id = company_id
        self.select = select
        self.decode_enum_values = decode_enum_values
        self.business_central_conn_id = business_central_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_bc.client.odata.filters import decode_enums
        from airflow_provider_bc.client.odata.lookup import Lookup
        from airflow_provider_bc.hooks.business_central import BusinessCentralHook
        from airflow_provider_bc.tasks.waiting import failing_task

        with failing_task(self.task_id):
            lookup = Lookup.build(
                self.entity_set, entity_id=self.entity_id, company_id=self.company_id, select=self.select
            )
            entity = BusinessCentralHook(self.business_central_conn_id).get(lookup)
        self.log.info("Fetched %s", lookup.describe())
        return decode_enums(entity) if self.decode_enum_values else entity


class BusinessCentralGetItemLedgerEntryOperator(BusinessCentralGetEntityOperator):
    """Fetch one item ledger entry by ``entry_id`` (templated) into XCom: the entity operator with
    ``entity_set="itemLedgerEntries"``; the other arguments are the entity operator's."""

    template_fields: Sequence[str] = ("entity_id", "company_id", "select")

    def __init__(self, *, entry_id: str, **kwargs: Any) -> None:
        super().__init__(entity_set=ITEM_LEDGER_ENTRIES, entity_id=entry_id, **kwargs)
