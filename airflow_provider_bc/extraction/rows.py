"""The fields an extraction relies on in each row, checked as the page is decoded: a row without
an ``id``, with an ``entryNumber`` that is not a whole number or a ``lastModifiedDateTime`` that is
not a time is a bad answer (the client retries it), never a watermark built on it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from airflow_provider_bc.extraction.cursors import ENTRY_NUMBER, LAST_MODIFIED, parse_datetime
from airflow_provider_bc.extraction.files import PageRows

_BC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,7})?Z")
#: lines of times in Business Central's form: a page's times checked in one match
_BC_TIMES = re.compile(rf"(?:{_BC_TIME.pattern}\n)*")


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _valid_number(value: Any) -> bool:
    return type(value) is int


def _valid_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if _BC_TIME.fullmatch(value):
        return True
    try:
        parse_datetime(value, LAST_MODIFIED)
    except ValueError:
        return False
    return True


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "id": (_valid_id, "a non-empty text"),
    ENTRY_NUMBER: (_valid_number, "a whole number"),
    LAST_MODIFIED: (_valid_time, "an ISO-8601 date and time"),
}


def _all_valid(name: str, values: list[Any]) -> bool:
    """Whether every value of field ``name`` is valid, decided in a few C-level passes (the usual case)."""
    types = set(map(type, values))
    if name == ENTRY_NUMBER:
        return types <= {int}
    if not types <= {str} or "" in values:
        return False
    return name == "id" or _BC_TIMES.fullmatch("\n".join(values) + "\n") is not None


def check_rows(rows: PageRows, fields: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the first row and field of ``rows`` that is not what ``fields`` need."""
    for name in fields:
        values = rows.column(name)
        if _all_valid(name, values):
            continue
        valid, meaning = _CHECKS[name]
        for index, value in enumerate(values):
            if not valid(value):
                raise ValueError(f"entity {index} of the page has {name} {value!r}, not {meaning}")


def checked_rows(decode: Callable[[bytes], Any], fields: Sequence[str]) -> Callable[[bytes], Any]:
    """``decode`` (a page reader) that also checks ``fields`` of every row (see :func:`check_rows`)."""

    def read(body: bytes) -> Any:
        payload = decode(body)
        rows = payload.get("value") if isinstance(payload, dict) else None
        if isinstance(rows, PageRows):
            check_rows(rows, fields)
        return payload

    return read
