"""Manifest and checkpoint shapes: what a run writes is accepted; anything else is refused, naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_provider_bc.extraction.shapes import (
    CHECKPOINT_FIELDS,
    MANIFEST_FIELDS,
    checkpoint_problem,
    manifest_problem,
)

T = "2024-06-01T11:45:00Z"
FILE = {"name": "part-0-0.ndjson.gz", "rows": 3, "bytes": 120, "sha256": "ab" * 32}
MANIFEST: dict[str, Any] = {
    "run": "run-1",
    "series": "0123456789abcdef",
    "finished": "2024-06-01T12:05:00Z",
    "source": {"host": "https://bc"},
    "files": [FILE],
    "rows": 3,
    "schema": {"id": "Edm.Guid"},
    "cursor": {"kind": "last_modified", "settled": T, "open_rows": [["id-1", T]]},
    "extra": "fields a later version adds are no problem",
}
CHECKPOINT: dict[str, Any] = {
    "started": T,
    "streams": [{"index": 0}],
    "plan": {
        "series": "0123456789abcdef",
        "window": {"passes": [None, "entryNumber gt 5"], "cursor": {}, "skip": [["id-1", T]]},
        "partitioned": True,
        "total": 0,
        "schema": {},
    },
}


def _with(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``data`` with the field at ``path`` (dotted) set to ``value``, or removed when it is ``...``."""
    changed = copy.deepcopy(data)
    *parents, name = path.split(".")
    target = changed
    for parent in parents:
        target = target[parent]
    if value is ...:
        del target[name]
    else:
        target[name] = value
    return changed


def test_what_a_run_writes_is_accepted() -> None:
    assert manifest_problem(MANIFEST) is None and checkpoint_problem(CHECKPOINT) is None
    assert manifest_problem(_with(MANIFEST, "cursor", {"kind": "full", "settled": None})) is None
    assert manifest_problem(_with(MANIFEST, "cursor", {"kind": "entry_number", "settled": 4711})) is None
    assert manifest_problem(_with(MANIFEST, "files", [])) is None


@pytest.mark.parametrize("field", list(MANIFEST_FIELDS))
def test_a_manifest_without_a_field_is_refused_naming_it(field: str) -> None:
    assert manifest_problem(_with(MANIFEST, field, ...)) == f"no {field!r}"


@pytest.mark.parametrize("field", list(CHECKPOINT_FIELDS))
def test_a_checkpoint_without_a_field_is_refused_naming_it(field: str) -> None:
    assert checkpoint_problem(_with(CHECKPOINT, field, ...)) == f"no {field!r}"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("rows", "3", "rows"),
        ("rows", True, "rows"),
        ("rows", 3.0, "rows"),
        ("run", None, "run"),
        ("finished", "yesterday", "finished"),
        ("finished", "2024-06-01T12:05:00", "finished"),  # no timezone
        ("source", ["https://bc"], "source"),
        ("files", [{**FILE, "sha256": None}], "files"),
        ("files", [{k: v for k, v in FILE.items() if k != "bytes"}], "files"),
        ("files", FILE, "files"),
        ("cursor", {"kind": "newest", "settled": T}, "cursor"),
        ("cursor", {"kind": "entry_number", "settled": "4711"}, "cursor"),
        ("cursor", {"kind": "last_modified", "settled": 4711}, "cursor"),
        ("cursor.open_rows", [["id-1"]], "cursor"),
        ("cursor.open_rows", [["id-1", 5]], "cursor"),
        ("cursor", "last_modified", "cursor"),
    ],
)
def test_a_manifest_field_no_run_writes_is_named(path: str, value: Any, field: str) -> None:
    problem = manifest_problem(_with(MANIFEST, path, value))
    assert problem is not None and problem.startswith(f"{field!r} is not what a run writes there: ")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("started", 1717243500),
        ("streams", {"index": 0}),
        ("streams", [[0]]),
        ("plan", []),
        ("plan.partitioned", "yes"),
        ("plan.total", None),
        ("plan.series", 7),
        ("plan.schema", None),
        ("plan.window", ...),
        ("plan.window.passes", [1]),
        ("plan.window.skip", [["id-1", T, 9]]),
        ("plan.window.cursor", []),
    ],
)
def test_a_checkpoint_field_no_run_writes_is_named(path: str, value: Any) -> None:
    problem = checkpoint_problem(_with(CHECKPOINT, path, value))
    assert problem is not None and problem.startswith(f"{path.split('.')[0]!r} is not what a run writes there: ")


def test_the_value_quoted_is_cut_short() -> None:
    problem = manifest_problem(_with(MANIFEST, "run", ["x" * 500]))
    assert problem == "'run' is not what a run writes there: " + str(["x" * 500])[:80]
