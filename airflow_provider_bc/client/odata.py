"""OData query options: Python values as safe OData literals, filters from mappings, enum decoding."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_STRING_FUNCTIONS = frozenset({"startswith", "endswith", "contains"})
_ENUM_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_ENUM_TOKEN = re.compile(r"^(?:[A-Za-z0-9]|_x[0-9A-Fa-f]{4}_)+$")


def check_field(name: str) -> str:
    """Return ``name`` if it is a plain property name; anything else could smuggle OData syntax."""
    if not isinstance(name, str) or not _FIELD.match(name):
        raise ValueError(f"{name!r} is not a property name (letters, digits and '_')")
    return name


def format_literal(value: Any) -> str:
    """Render a Python value as an OData v4 literal that Business Central accepts.

    ``str`` is quoted with ``'`` doubled; ``datetime`` (timezone-aware) becomes UTC ISO-8601 with
    ``Z``; ``date`` is bare ``YYYY-MM-DD``; ``uuid.UUID`` is bare; numbers are plain; ``None`` is
    ``null``. Naive datetimes and non-finite floats are refused rather than guessed.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"datetime {value.isoformat()} has no timezone; give an aware datetime (UTC)")
        utc = value.astimezone(dt.timezone.utc)
        text = utc.strftime("%Y-%m-%dT%H:%M:%S")
        if utc.microsecond:
            text += f".{utc.microsecond:06d}".rstrip("0")
        return text + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no OData literal")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!r} has no OData literal")
        return format(value, "f")
    raise TypeError(f"no OData literal for {type(value).__name__} value {value!r}")


def clause(field: str, op: str, value: Any) -> str:
    """One comparison ``field op literal``, e.g. ``clause("postingDate", "ge", date(2024, 1, 31))``."""
    if op not in _OPERATORS:
        raise ValueError(f"operator {op!r} is not one of {sorted(_OPERATORS)}")
    return f"{check_field(field)} {op} {format_literal(value)}"


def text_clause(function: str, field: str, text: str) -> str:
    """A string-function test, e.g. ``text_clause("contains", "description", "O'Brien")``."""
    if function not in _STRING_FUNCTIONS:
        raise ValueError(f"function {function!r} is not one of {sorted(_STRING_FUNCTIONS)}")
    if not isinstance(text, str):
        raise TypeError(f"{function} takes text, got {type(text).__name__}")
    return f"{function}({check_field(field)},{format_literal(text)})"


def filter_from_match(match: Mapping[str, Any]) -> str:
    """``field eq value`` for every item of ``match``, joined with ``and``."""
    if not match:
        raise ValueError("match must name at least one field")
    return " and ".join(clause(name, "eq", value) for name, value in match.items())


def all_of(clauses: Iterable[str]) -> str:
    """Join filter expressions with ``and`` (each parenthesised when there are several)."""
    parts = [c for c in clauses if c]
    return parts[0] if len(parts) == 1 else " and ".join(f"({c})" for c in parts)


def decode_enum(value: str) -> str:
    """Decode an XML-name-encoded enum value: ``Positive_x0020_Adjmt_x002E_`` -> ``Positive Adjmt.``."""
    return _ENUM_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def decode_enums(entity: Mapping[str, Any], fields: Iterable[str] | None = None) -> dict[str, Any]:
    """Copy of ``entity`` with enum values decoded.

    With ``fields`` only those are decoded; without, every string value made only of letters,
    digits and ``_xHHHH_`` escapes that holds at least one escape (the shape BC gives enums).
    """
    wanted = set(fields) if fields is not None else None
    decoded: dict[str, Any] = {}
    for name, value in entity.items():
        if (
            isinstance(value, str)
            and not name.startswith("@")
            and (
                (wanted is not None and name in wanted)
                or (wanted is None and _ENUM_TOKEN.match(value) and _ENUM_ESCAPE.search(value))
            )
        ):
            value = decode_enum(value)
        decoded[name] = value
    return decoded


def query_options(
    *,
    filter: str | None = None,
    select: Iterable[str] | str | None = None,
    orderby: Iterable[str] | str | None = None,
    top: int | None = None,
) -> dict[str, str]:
    """The ``$filter``/``$select``/``$orderby``/``$top`` query parameters, validated."""
    params: dict[str, str] = {}
    if filter:
        params["$filter"] = filter
    if select:
        fields = [select] if isinstance(select, str) else list(select)
        params["$select"] = ",".join(check_field(f.strip()) for f in ",".join(fields).split(","))
    if orderby:
        terms = [orderby] if isinstance(orderby, str) else list(orderby)
        checked = []
        for term in ",".join(terms).split(","):
            name, _, direction = term.strip().partition(" ")
            if direction.strip() not in {"", "asc", "desc"}:
                raise ValueError(f"orderby direction {direction!r} is neither 'asc' nor 'desc'")
            checked.append(f"{check_field(name)} {direction.strip()}".strip())
        params["$orderby"] = ",".join(checked)
    if top is not None:
        if not isinstance(top, int) or isinstance(top, bool) or top < 1:
            raise ValueError(f"top must be a positive integer, got {top!r}")
        params["$top"] = str(top)
    return params
