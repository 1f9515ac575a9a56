"""The checked values a request is built from: an entity set, an entity id, a company id.

Each is made once from a caller's argument (:meth:`EntitySet.of`, :meth:`EntityId.of`,
:meth:`CompanyId.of`), which raises a :class:`~.errors.BusinessCentralQueryError` naming the
argument; everything below takes these types and trusts them. ``of`` hands a value of its own
type back unchecked, so a value is checked where it enters and nowhere again.
"""

from __future__ import annotations

import re
import uuid
from typing import ClassVar

from typing_extensions import Self

from airflow_provider_bc.client.errors import BusinessCentralQueryError

_ENTITY_SET = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")


def is_guid(value: object) -> bool:
    """Whether ``value`` is a GUID in its canonical 8-4-4-4-12 text form (or a ``uuid.UUID``)."""
    if isinstance(value, uuid.UUID):
        return True
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class EntitySet(str):
    """A plain OData entity-set name (``itemLedgerEntries``)."""

    __slots__ = ()

    @classmethod
    def of(cls, value: object, argument: str = "entity_set") -> Self:
        """``value`` as an entity set, or a query error naming ``argument``."""
        if type(value) is cls:
            return value
        if not isinstance(value, str) or not _ENTITY_SET.match(value):
            raise BusinessCentralQueryError(argument, f"must be a name like 'itemLedgerEntries', got {value!r}")
        return cls(value)


class Guid(str):
    """A GUID as canonical (lower-case 8-4-4-4-12) text."""

    __slots__ = ()
    #: the argument an error names by default
    ARGUMENT: ClassVar[str] = "id"

    @classmethod
    def of(cls, value: object, argument: str | None = None) -> Self:
        """``value`` as canonical GUID text, or a query error naming ``argument``."""
        if type(value) is cls:
            return value
        if not is_guid(value):
            raise BusinessCentralQueryError(
                argument or cls.ARGUMENT, f"must be a GUID like 44a76d24-52ff-eb11-bb76-000d3a220646, got {value!r}"
            )
        return cls(uuid.UUID(str(value)))


class EntityId(Guid):
    """An entity's id (its SystemId)."""

    __slots__ = ()
    ARGUMENT = "entity_id"


class CompanyId(Guid):
    """A company's id."""

    __slots__ = ()
    ARGUMENT = "company_id"


def company_option(value: object) -> CompanyId | None:
    """A read's ``company_id`` option: ``None`` (or empty) for the settings' company, else a company id."""
    return CompanyId.of(value) if value else None
