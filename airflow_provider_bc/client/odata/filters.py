"""OData query options: Python values as safe OData literals, filters from mappings, enum decoding."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from airflow_provider_bc.client.errors import BusinessCentralQueryError

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_STRING_FUNCTIONS = frozenset({"startswith", "endswith", "contains"})
_ENUM_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_ENUM_TOKEN = re.compile(r"^(?:[A-Za-z0-9]|_x[0-9A-Fa-f]{4}_)+$")


def check_field(name: str, argument: str = "field") -> str:
    """Return ``name`` if it is a plain property name; anything else could smuggle OData syntax."""
    if not isinstance(name, str) or not _FIELD.match(name):
        raise BusinessCentralQueryError(argument, f"{name!r} is not a property name (letters, digits and '_')")
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
            raise BusinessCentralQueryError(
                "value", f"datetime {value.isoformat()} has no timezone; give an aware datetime (UTC)"
            )
        utc = value.astimezone(dt.timezone.utc)
        text = utc.replace(tzinfo=None, microsecond=0).isoformat()  # strftime drops the zeros of year 0001
        if utc.microsecond:
            text += f".{utc.microsecond:06d}".rstrip("0")
        return text + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BusinessCentralQueryError("value", f"{value!r} has no OData literal")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise BusinessCentralQueryError("value", f"{value!r} has no OData literal")
        return format(value, "f")
    raise BusinessCentralQueryError("value", f"no OData literal for {type(value).__name__} value {value!r}")


def clause(field: str, op: str, value: Any) -> str:
    """One comparison ``field op literal``, e.g. ``clause("postingDate", "ge", date(2024, 1, 31))``."""
    if op not in _OPERATORS:
        raise BusinessCentralQueryError("operator", f"{op!r} is not one of {sorted(_OPERATORS)}")
    return f"{check_field(field)} {op} {format_literal(value)}"


def text_clause(function: str, field: str, text: str) -> str:
    """A string-function test, e.g. ``text_clause("contains", "description", "O'Brien")``."""
    if function not in _STRING_FUNCTIONS:
        raise BusinessCentralQueryError("function", f"{function!r} is not one of {sorted(_STRING_FUNCTIONS)}")
    if not isinstance(text, str):
        raise BusinessCentralQueryError("text", f"{function} takes text, got {type(text).__name__}")
    return f"{function}({check_field(field)},{format_literal(text)})"


def filter_from_match(match: Mapping[str, Any]) -> str:
    """``field eq value`` for every item of ``match``, joined with ``and``."""
    if not isinstance(match, Mapping) or not match:
        raise BusinessCentralQueryError("match", f"must map at least one field to its value, got {match!r}")
    return " and ".join(clause(name, "eq", value) for name, value in match.items())


def check_filter(text: str) -> str:
    """``text`` if its parentheses and text literals are balanced (a ``'`` inside text is written ``''``),
    so that it cannot close the parenthesis it is wrapped in when joined with other clauses."""
    opened: list[int] = []
    quote: int | None = None  # where the text literal being read started
    index = 0
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == "'" and text[index + 1 : index + 2] == "'":
                index += 1  # a doubled quote: a quote inside the text
            elif char == "'":
                quote = None
        elif char == "'":
            quote = index
        elif char == "(":
            opened.append(index)
        elif char == ")" and not opened:
            raise BusinessCentralQueryError(
                "filter", f"')' at position {index} closes a parenthesis that was never opened: {text!r}"
            )
        elif char == ")":
            opened.pop()
        index += 1
    if quote is not None:
        raise BusinessCentralQueryError(
            "filter", f"the text at position {quote} is never closed (a quote inside text is written ''): {text!r}"
        )
    if opened:
        raise BusinessCentralQueryError("filter", f"'(' at position {opened[-1]} is never closed: {text!r}")
    return text


def all_of(clauses: Iterable[str]) -> str:
    """Join filter expressions with ``and``, each checked (:func:`check_filter`) and parenthesised when
    there are several."""
    parts = [check_filter(c) for c in clauses if c]
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
        params["$select"] = ",".join(select_fields(select))
    if orderby:
        checked = []
        for term in _terms(orderby, "orderby"):
            name, _, direction = term.partition(" ")
            if direction.strip() not in {"", "asc", "desc"}:
                raise BusinessCentralQueryError("orderby", f"direction {direction!r} is neither 'asc' nor 'desc'")
            checked.append(f"{check_field(name, 'orderby')} {direction.strip()}".strip())
        params["$orderby"] = ",".join(checked)
    if top is not None:
        params["$top"] = str(check_top(top))
    return params


def select_fields(select: Iterable[str] | str) -> tuple[str, ...]:
    """The property names of a ``select`` given as a list or a comma-separated string, checked."""
    return tuple(check_field(name, "select") for name in _terms(select, "select"))


def check_top(top: object) -> int:
    """``top`` if it is a positive integer."""
    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise BusinessCentralQueryError("top", f"must be a positive integer, got {top!r}")
    return top


def _terms(value: Iterable[str] | str, argument: str) -> list[str]:
    items: list[object] = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
    if not all(isinstance(item, str) for item in items):
        raise BusinessCentralQueryError(argument, f"must be text or a list of texts, got {value!r}")
    terms = [term.strip() for term in ",".join(str(item) for item in items).split(",")]
    if not any(terms):
        raise BusinessCentralQueryError(argument, f"names no field: {value!r}")
    return terms
