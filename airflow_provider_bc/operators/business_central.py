"""Operators that fetch Business Central entities into XCom."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_bc.names import DEFAULT_CONN_ID, ITEM_LEDGER_ENTRIES

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    _Operator = BaseOperator
else:
    _Operator = object


class _FetchOneEntity(_Operator):
    """The fetch of both operators below. They derive from ``BaseOperator`` directly, not from one
    another: Airflow runs its default-argument handling once per class level for every task a DAG
    file creates, which is parse time spent on each DAG file."""

    template_fields: Sequence[str] = ("entity_set", "entity_id", "company_id", "select")
    ui_color = "#00b7c3"

    def _keep_arguments(
        self,
        entity_set: str,
        entity_id: str,
        company_id: str | None,
        select: Sequence[str] | str | None,
        decode_enum_values: bool,
        business_central_conn_id: str,
    ) -> None:
        self.entity_set = entity_set
        self.entity_id = entity_id
        self.company_id = company_id
        self.select = select
        self.decode_enum_values = decode_enum_values
        self.business_central_conn_id = business_central_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_bc.client.lookup import Lookup
        from airflow_provider_bc.client.odata import decode_enums
        from airflow_provider_bc.hooks.business_central import BusinessCentralHook
        from airflow_provider_bc.waiting import failing_task

        with failing_task(self.task_id):
            lookup = Lookup.build(
                self.entity_set, entity_id=self.entity_id, company_id=self.company_id, select=self.select
            )
            entity = BusinessCentralHook(self.business_central_conn_id).get(lookup)
        self.log.info("Fetched %s", lookup.describe())
        return decode_enums(entity) if self.decode_enum_values else entity


class BusinessCentralGetEntityOperator(_FetchOneEntity, BaseOperator):
    """Fetch one entity by id and return it (so it lands in XCom as ``return_value``).

    :param entity_set: the API's entity set, e.g. ``itemLedgerEntries`` (templated)
    :param entity_id: the entity's id, a GUID (templated: may come from an upstream XCom)
    :param company_id: company GUID; defaults to the connection's ``company_id`` (templated)
    :param select: fields to return, a list or comma-separated string (templated)
    :param decode_enum_values: decode enum values (``Positive_x0020_Adjmt_x002E_`` -> ``Positive Adjmt.``)
    :param business_central_conn_id: the ``business_central`` connection
    """

    # its own execute: Airflow 2 wraps only a class's own execute, which takes the sentinel it is called with
    execute = _FetchOneEntity.execute

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
        self._keep_arguments(entity_set, entity_id, company_id, select, decode_enum_values, business_central_conn_id)


class BusinessCentralGetItemLedgerEntryOperator(_FetchOneEntity, BaseOperator):
    """Fetch one item ledger entry by id into XCom: ``BusinessCentralGetEntityOperator`` with
    ``entity_set="itemLedgerEntries"``; ``entry_id`` is templated as ``entity_id``."""

    # its own execute: Airflow 2 wraps only a class's own execute, which takes the sentinel it is called with
    execute = _FetchOneEntity.execute

    def __init__(
        self,
        *,
        entry_id: str,
        company_id: str | None = None,
        select: Sequence[str] | str | None = None,
        decode_enum_values: bool = False,
        business_central_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._keep_arguments(
            ITEM_LEDGER_ENTRIES, entry_id, company_id, select, decode_enum_values, business_central_conn_id
        )
