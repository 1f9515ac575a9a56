"""Entity sets served by the emulator: their fields, value kinds and how values are stored."""

from __future__ import annotations

import enum
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cached_property
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


def xml_name(name: str) -> str:
    """An AL name as BC writes an enum value: other characters than letters, digits and ``_`` as
    ``_xHHHH_`` (``"Positive Adjmt."`` -> ``"Positive_x0020_Adjmt_x002E_"``)."""
    return "".join(c if c.isalnum() or c == "_" else f"_x{ord(c):04X}_" for c in name)


@dataclass(frozen=True)
class EnumType:
    """An AL enum, declared in ``$metadata`` as ``Microsoft.NAV.<name>``: members as (AL name, ordinal)."""

    name: str
    members: tuple[tuple[str, int], ...]

    @property
    def values(self) -> tuple[str, ...]:
        """The member names as they travel in JSON (XML-encoded)."""
        return tuple(xml_name(member) for member, _ in self.members)


@dataclass(frozen=True)
class Field:
    """One property of an entity, stored in a SQLite column of the same name.

    ``max_length``: a Code/Text field's length; ``enum``: the type of an ENUM field; ``flowfield``: a value
    BC calculates (sums of other tables), which changes without touching the row.
    """

    name: str
    kind: Kind
    max_length: int | None = None
    enum: EnumType | None = None
    flowfield: bool = False

    @property
    def column(self) -> str:
        """The quoted column holding the value exactly as it travels in JSON (decimals as their text)."""
        return f'"{self.name}"'

    @property
    def sort_column(self) -> str:
        """The column (or expression) to compare and order by: datetimes keep a normalized UTC copy,
        decimals compare as numbers."""
        if self.kind is Kind.DATETIME:
            return f'"{self.name}__key"'
        return f"CAST({self.column} AS NUMERIC)" if self.kind is Kind.DECIMAL else self.column

    @property
    def json_sql(self) -> str:
        """SQL for the value in the entity's JSON (a decimal's text as a JSON number)."""
        return f"json({self.column})" if self.kind is Kind.DECIMAL else self.column


#: the key of every entity set (BC's SystemId), first in every entity
KEY = Field("id", Kind.GUID)


@dataclass(frozen=True)
class EntitySet:
    """A collection of one entity type, keyed by :data:`KEY` and stored in one SQLite table named after it."""

    name: str
    entity_type: str  # the name of its type in $metadata (Microsoft.NAV.<entity_type>)
    non_key_fields: tuple[Field, ...]  # in the order BC sends them, after the key
    tiebreak: str  # a unique column that makes every ordering total (used in $skiptoken)

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        """Every field, the key first."""
        return (KEY, *self.non_key_fields)

    @property
    def table(self) -> str:
        """Its SQLite table: the name in snake case (``itemLedgerEntries``: ``item_ledger_entries``)."""
        return re.sub("(?=[A-Z])", "_", self.name).lower()

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


#: the precision of BC's datetimes: a later change is at least this much later
MILLISECOND = timedelta(milliseconds=1)


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


def decimal_text(value: int | float | Decimal | str) -> str:
    """A decimal as BC writes it in JSON: plain digits, no exponent, no trailing zeros (``3.10`` -> ``3.1``)."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and "e" not in (text := repr(value)):
        return text.removesuffix(".0") if value else "0"  # repr: the shortest text reading back as this float
    try:
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    text = f"{number:f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text


def coerce(field: Field, value: Any) -> Any:
    """Check a JSON value given for ``field`` (control API) and return it in stored form.

    A decimal may come as a number or as its text (``"1234567890.123456789"``), kept exactly.
    """
    if field.kind is Kind.GUID:
        return str(uuid.UUID(str(value)))
    if field.kind is Kind.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{field.name} must be a number, not {value!r}")
        return value
    if field.kind is Kind.DECIMAL:
        if not isinstance(value, int | float | Decimal | str):
            raise ValueError(f"{field.name} must be a number, not {value!r}")
        try:
            return decimal_text(value)
        except ValueError as exc:
            raise ValueError(f"{field.name} must be a number, not {value!r}") from exc
    if not isinstance(value, str):
        raise ValueError(f"{field.name} must be a string, not {value!r}")
    if field.kind is Kind.DATE:
        return date.fromisoformat(value).isoformat()
    if field.kind is Kind.DATETIME:
        parse_datetime(value)
    return value


# The AL enums of the item ledger entry's fields (base application), as $metadata declares them.
ITEM_LEDGER_ENTRY_TYPE = EnumType(
    "itemLedgerEntryType",
    (
        ("Purchase", 0),
        ("Sale", 1),
        ("Positive Adjmt.", 2),
        ("Negative Adjmt.", 3),
        ("Transfer", 4),
        ("Consumption", 5),
        ("Output", 6),
        (" ", 7),
        ("Assembly Consumption", 8),
        ("Assembly Output", 9),
    ),
)
ANALYSIS_SOURCE_TYPE = EnumType("analysisSourceType", ((" ", 0), ("Customer", 1), ("Vendor", 2), ("Item", 3)))
ITEM_LEDGER_DOCUMENT_TYPE = EnumType(
    "itemLedgerDocumentType",
    (
        (" ", 0),
        ("Sales Shipment", 1),
        ("Sales Invoice", 2),
        ("Sales Return Receipt", 3),
        ("Sales Credit Memo", 4),
        ("Purchase Receipt", 5),
        ("Purchase Invoice", 6),
        ("Purchase Return Shipment", 7),
        ("Purchase Credit Memo", 8),
        ("Transfer Shipment", 9),
        ("Transfer Receipt", 10),
        ("Service Shipment", 11),
        ("Service Invoice", 12),
        ("Service Credit Memo", 13),
        ("Posted Assembly", 14),
        ("Inventory Receipt", 19),
        ("Inventory Shipment", 20),
        ("Direct Transfer", 21),
    ),
)

COMPANIES = EntitySet(
    name="companies",
    entity_type="company",
    non_key_fields=(
        Field("systemVersion", Kind.STRING),
        Field("timestamp", Kind.INTEGER),
        Field("name", Kind.STRING, max_length=30),
        Field("displayName", Kind.STRING, max_length=250),
        Field("businessProfileId", Kind.STRING, max_length=250),
        Field("systemCreatedAt", Kind.DATETIME),
        Field("systemCreatedBy", Kind.GUID),
        Field("systemModifiedAt", Kind.DATETIME),
        Field("systemModifiedBy", Kind.GUID),
    ),
    tiebreak="ordinal",
)

ITEM_LEDGER_ENTRIES = EntitySet(
    name="itemLedgerEntries",
    entity_type="itemLedgerEntry",
    non_key_fields=(
        Field("entryNumber", Kind.INTEGER),
        Field("itemNumber", Kind.STRING, max_length=20),
        Field("postingDate", Kind.DATE),
        Field("entryType", Kind.ENUM, enum=ITEM_LEDGER_ENTRY_TYPE),
        Field("sourceNumber", Kind.STRING, max_length=20),
        Field("sourceType", Kind.ENUM, enum=ANALYSIS_SOURCE_TYPE),
        Field("documentNumber", Kind.STRING, max_length=20),
        Field("documentType", Kind.ENUM, enum=ITEM_LEDGER_DOCUMENT_TYPE),
        Field("description", Kind.STRING, max_length=100),
        Field("quantity", Kind.DECIMAL),
        Field("salesAmountActual", Kind.DECIMAL, flowfield=True),
        Field("costAmountActual", Kind.DECIMAL, flowfield=True),
        Field("lastModifiedDateTime", Kind.DATETIME),
    ),
    tiebreak='"entryNumber"',
)
#: the entity sets inside a company (``companies({id})/<name>``)
COMPANY_SCOPED = (ITEM_LEDGER_ENTRIES,)


def json_object_sql(fields: Sequence[Field]) -> str:
    """SQL building an entity's JSON text (``@odata.etag`` first, then ``fields``) from its columns."""
    pairs = ", ".join(f"'{field.name}', {field.json_sql}" for field in fields)
    return f"CAST(json_object('@odata.etag', etag, {pairs}) AS BLOB)"
