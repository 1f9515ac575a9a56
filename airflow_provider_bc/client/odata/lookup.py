"""What a task reads: one entity by id, or the entities matching a filter, as one frozen value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from airflow_provider_bc.client.entity_sets import ITEM_LEDGER_ENTRIES
from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.odata.filters import all_of, check_filter, check_top, filter_from_match, select_fields
from airflow_provider_bc.client.values import CompanyId, EntityId, EntitySet

_ITEM_LEDGER_ENTRIES: Final = EntitySet(ITEM_LEDGER_ENTRIES)


@dataclass(frozen=True)
class Lookup:
    """An entity set of a company, read by ``entity_id`` or by ``filter`` (exactly one of them).

    Built once from a task's rendered arguments (:meth:`build`), sent to a trigger as plain data
    (:meth:`to_dict` / :meth:`from_dict`) and handed to the client unchanged. Every field is
    checked on construction; a bad one raises :class:`BusinessCentralQueryError` naming it.
    """

    entity_set: EntitySet = _ITEM_LEDGER_ENTRIES
    entity_id: EntityId | None = None
    filter: str | None = None
    company_id: CompanyId | None = None
    select: tuple[str, ...] | None = None
    top: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "entity_set", EntitySet.of(self.entity_set))
        if (self.entity_id is None) == (self.filter is None):
            raise BusinessCentralQueryError("entity_id", "give either entity_id or filter/match, not both or neither")
        if self.entity_id is not None:  # the one check of an entity id on its way to a request
            object.__setattr__(self, "entity_id", EntityId.of(self.entity_id))
        if self.filter is not None:
            _check_filter(self.filter)
        if self.company_id is not None:
            object.__setattr__(self, "company_id", CompanyId.of(self.company_id))
        if self.select is not None:
            object.__setattr__(self, "select", select_fields(self.select))
        check_top(self.top)

    @classmethod
    def build(
        cls,
        entity_set: str,
        *,
        entity_id: object = None,
        filter: str | None = None,
        match: Mapping[str, Any] | None = None,
        company_id: str | None = None,
        select: Iterable[str] | str | None = None,
        top: int = 1,
    ) -> Lookup:
        """A lookup from a task's arguments: ``filter`` and ``match`` (equality clauses, values
        escaped) are joined with ``and``; an argument given but empty is refused, never dropped."""
        clauses = [] if filter is None else [_check_filter(filter)]
        if match is not None:
            clauses.append(filter_from_match(match))
        return cls(
            entity_set=EntitySet.of(entity_set),
            entity_id=None if entity_id is None else EntityId.of(entity_id),
            filter=all_of(clauses) if clauses else None,
            company_id=None if company_id is None else CompanyId.of(company_id),
            select=None if not select else select_fields(select),
            top=top,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (for a trigger's serialized arguments)."""
        data = {name: str(value) if isinstance(value, str) else value for name, value in asdict(self).items()}
        data["select"] = list(self.select) if self.select is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lookup:
        """The lookup :meth:`to_dict` described."""
        select = data.get("select")
        return cls(**{**data, "select": tuple(select) if select is not None else None})

    def describe(self) -> str:
        """``itemLedgerEntries(<id>)`` or ``itemLedgerEntries matching '<filter>'``, for messages."""
        return (
            f"{self.entity_set}({self.entity_id})" if self.entity_id else f"{self.entity_set} matching {self.filter!r}"
        )


def _check_filter(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BusinessCentralQueryError("filter", f"is empty ({value!r}): did its template render to nothing?")
    return check_filter(value)
