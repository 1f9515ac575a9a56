"""Entity sets served by the emulator: their fields, value kinds and how values are stored."""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})\Z")


class Kind(enum.Enum):
    """The Edm type family of a field, which decides the literals and operators it accepts."""

    GUID = "guid"
    STRING = "string"
    ENUM = "enum"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"


@dataclass(frozen=True)
class Field:
    """One property of an entity, stored in a SQLite column of the same name."""

    name: str
    kind: Kind

    @property
    def column(self) -> str:
        """The quoted column holding the value exactly as it travels in JSON."""
        return f'"{self.name}"'

    @property
    def sort_column(self) -> str:
        """The column to compare and order by (datetimes keep a normalized UTC copy)."""
        return f'"{self.name}__key"' if self.kind is Kind.DATETIME else self.column


@dataclass(frozen=True)
class EntitySet:
    """A collection of one entity type, stored in one SQLite table."""

    name: str
    table: str
    fields: tuple[Field, ...]
    tiebreak: str  # a unique column that makes every ordering total (used in $skiptoken)

    def field(self, name: str) -> Field | None:
        """The field called ``name`` (case-sensitive, like BC), or None."""
        return next((f for f in self.fields if f.name == name), None)


def parse_datetime(text: str) -> datetime:
    """Parse an ISO-8601 datetime with ``Z`` or an offset (up to 7 fractional digits) to UTC."""
    match = _DATETIME.match(text)
    if not match:
        raise ValueError(f"not a datetime with a time zone: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    offset = 0 if zone == "Z" else (int(zone[1:3]) * 60 + int(zone[4:6])) * (-1 if zone[0] == "-" else 1)
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
        return (local - timedelta(minutes=offset)).replace(tzinfo=timezone.utc)
    except OverflowError as exc:
        raise ValueError(f"datetime out of range: {text!r}") from exc


def format_datetime(moment: datetime) -> str:
    """Format a UTC datetime the way BC does: milliseconds at most, trailing zeros dropped, ``Z``."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond // 1000:03d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def datetime_key(text: str) -> str:
    """A fixed-width UTC text for an ISO-8601 datetime that sorts like the instant it represents."""
    match = _DATETIME.match(text)
    if not match:
        raise ValueError(f"not a datetime with a time zone: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone != "Z":
        return parse_datetime(text).strftime("%Y-%m-%dT%H:%M:%S.%f")
    datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))  # validates
    return f"{year}-{month}-{day}T{hour}:{minute}:{second or '00'}.{(fraction or '')[:6].ljust(6, '0')}"


def coerce(field: Field, value: Any) -> Any:
    """Check a JSON value given for ``field`` (control API) and return it in stored form."""
    if field.kind is Kind.GUID:
        return str(uuid.UUID(str(value)))
    if field.kind in (Kind.INTEGER, Kind.DECIMAL):
        if isinstance(value, bool) or not isinstance(value, int if field.kind is Kind.INTEGER else (int, float)):
            raise ValueError(f"{field.name} must be a number, not {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{field.name} must be a string, not {value!r}")
    if field.kind is Kind.DATE:
        return date.fromisoformat(value).isoformat()
    if field.kind is Kind.DATETIME:
        parse_datetime(value)
    return value


COMPANIES = EntitySet(
    name="companies",
    table="companies",
    fields=(
        Field("id", Kind.GUID),
        Field("systemVersion", Kind.STRING),
        Field("timestamp", Kind.INTEGER),
        Field("name", Kind.STRING),
        Field("displayName", Kind.STRING),
        Field("businessProfileId", Kind.STRING),
        Field("systemCreatedAt", Kind.DATETIME),
        Field("systemCreatedBy", Kind.GUID),
        Field("systemModifiedAt", Kind.DATETIME),
        Field("systemModifiedBy", Kind.GUID),
    ),
    tiebreak="ordinal",
)

ITEM_LEDGER_ENTRIES = EntitySet(
    name="itemLedgerEntries",
    table="item_ledger_entries",
    fields=(
        Field("id", Kind.GUID),
        Field("entryNumber", Kind.INTEGER),
        Field("itemNumber", Kind.STRING),
        Field("postingDate", Kind.DATE),
        Field("entryType", Kind.ENUM),
        Field("sourceNumber", Kind.STRING),
        Field("sourceType", Kind.ENUM),
        Field("documentNumber", Kind.STRING),
        Field("documentType", Kind.ENUM),
        Field("description", Kind.STRING),
        Field("quantity", Kind.DECIMAL),
        Field("salesAmountActual", Kind.DECIMAL),
        Field("costAmountActual", Kind.DECIMAL),
        Field("lastModifiedDateTime", Kind.DATETIME),
    ),
    tiebreak='"entryNumber"',
)


def json_object_sql(names: list[str]) -> str:
    """SQL building an entity's JSON text (``@odata.etag`` first, then ``names``) from its columns."""
    pairs = ", ".join(f"'{name}', \"{name}\"" for name in names)
    return f"CAST(json_object('@odata.etag', etag, {pairs}) AS BLOB)"
