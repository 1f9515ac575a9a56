"""What a manifest and a checkpoint found at the destination must hold before a run trusts them: a
file edited by hand, cut, or written by another version is named as such, never a raw ``KeyError``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_bc.extraction.cursors import CURSORS, parse_datetime

Check = Callable[[Any], bool]


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_datetime(value, "time")
    except ValueError:
        return False
    return True


def _whole(value: Any) -> bool:
    return type(value) is int


def _list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def _version(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value)


def _file(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _problem(value, {"name": _text, "rows": _whole, "bytes": _whole, "sha256": _text}) is None
    )


def _settled(cursor: Mapping[str, Any]) -> bool:
    settled = cursor.get("settled")
    if settled is None:
        return True
    return _whole(settled) if cursor.get("kind") == "entry_number" else _time(settled)


def _cursor(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("kind") in CURSORS
        and _settled(value)
        and _list_of(_version)(value.get("open_rows", []))
    )


def _mapping(value: Any) -> bool:
    return isinstance(value, dict)


def _window(value: Any) -> bool:
    fields = {
        "passes": _list_of(lambda item: item is None or _text(item)),
        "cursor": _mapping,
        "skip": _list_of(_version),
    }
    return isinstance(value, dict) and _problem(value, fields) is None


def _plan(value: Any) -> bool:
    fields = {
        "series": _text,
        "window": _window,
        "partitioned": lambda flag: isinstance(flag, bool),
        "total": _whole,
        "schema": _mapping,
    }
    return isinstance(value, dict) and _problem(value, fields) is None


MANIFEST_FIELDS: dict[str, Check] = {
    "run": _text,
    "series": _text,
    "finished": _time,
    "source": _mapping,
    "files": _list_of(_file),
    "rows": _whole,
    "schema": _mapping,
    "cursor": _cursor,
}
CHECKPOINT_FIELDS: dict[str, Check] = {"started": _time, "streams": _list_of(_mapping), "plan": _plan}


def _problem(data: Mapping[str, Any], fields: Mapping[str, Check]) -> str | None:
    for name, check in fields.items():
        if name not in data:
            return f"no {name!r}"
        if not check(data[name]):
            return f"{name!r} is not what a run writes there: {str(data[name])[:80]}"
    return None


def manifest_problem(data: Mapping[str, Any]) -> str | None:
    """What makes ``data`` no manifest this provider wrote (``None``: nothing)."""
    return _problem(data, MANIFEST_FIELDS)


def checkpoint_problem(data: Mapping[str, Any]) -> str | None:
    """What makes ``data`` no checkpoint this provider wrote (``None``: nothing)."""
    return _problem(data, CHECKPOINT_FIELDS)
