"""The arguments both entity-set tasks keep (a module that imports nothing: DAG files load it at parse time)."""

from __future__ import annotations

from collections.abc import Sequence


class EntitySetArguments:
    """Where both set tasks (this operator, ``BusinessCentralEntitiesSensor``) read: the connection,
    the company, the entity set and the fields."""

    def _keep_set_arguments(
        self, entity_set: str, company_id: str | None, select: Sequence[str] | str | None, business_central_conn_id: str
    ) -> None:
        self.entity_set = entity_set
        self.company_id = company_id
        self.select = select
        self.business_central_conn_id = business_central_conn_id
