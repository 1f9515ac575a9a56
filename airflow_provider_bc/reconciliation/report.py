"""The report of a reconciliation as JSON-able data, its failure thresholds and its one-line summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_bc.client.wording import counted
from airflow_provider_bc.reconciliation.compare import Change, Differences
from airflow_provider_bc.reconciliation.errors import ReconciliationError
from airflow_provider_bc.reconciliation.spec import KINDS

#: what fails a run unless the task says otherwise: any key missing, extra or doubled, any changed row
DEFAULT_FAIL_ON: Mapping[str, int] = {"missing": 0, "extra": 0, "duplicate": 0, "changed": 0, "totals": 0}
REPORT_VERSION = 1


def fail_on_of(value: Any) -> dict[str, int]:
    """Failure thresholds ``{kind: most allowed}`` from a task argument (``None``: the defaults)."""
    if value is None:
        return dict(DEFAULT_FAIL_ON)
    if not isinstance(value, Mapping):
        raise ReconciliationError("fail_on", f"{value!r:.100} is not a mapping of kind to the most allowed")
    thresholds = {}
    for kind, most in value.items():
        if kind not in KINDS:
            raise ReconciliationError("fail_on", f"{kind!r} is not one of {', '.join(KINDS)}")
        if type(most) is not int or most < 0:
            raise ReconciliationError(f"fail_on.{kind}", f"{most!r} is not a whole number at or above 0")
        thresholds[kind] = most
    return thresholds


def counts_of(found: Differences, totals_beyond: int) -> dict[str, int]:
    return {
        "missing": found.missing.count,
        "extra": found.extra.count,
        "duplicate_business_central": found.duplicate_business_central.count,
        "duplicate_warehouse": found.duplicate_warehouse.count,
        "changed": found.changed.count,
        "totals": totals_beyond,
    }


def failures(counts: Mapping[str, int], fail_on: Mapping[str, int]) -> list[str]:
    """Each threshold exceeded, as ``kind: count > most``."""
    seen = {**counts, "duplicate": counts["duplicate_business_central"] + counts["duplicate_warehouse"]}
    return [f"{kind}: {seen[kind]} > {most}" for kind, most in fail_on.items() if seen[kind] > most]


def _json(value: Any) -> Any:
    """A key or field value as JSON: ``None``, booleans, whole numbers and text as they are, the rest
    (decimals, dates, times) as text."""
    return value if value is None or isinstance(value, bool | int | str) else str(value)


def _changed(changes: list[Change]) -> dict[str, Any]:
    return {
        "key": _json(changes[0].key),
        "fields": [
            {
                "field": c.field,
                "business_central": _json(c.business_central),
                "warehouse": _json(c.warehouse),
                "difference": None if c.difference is None else str(c.difference),
            }
            for c in changes
        ],
    }


def samples_of(found: Differences) -> dict[str, list[Any]]:
    keys = ("missing", "extra", "duplicate_business_central", "duplicate_warehouse")
    samples: dict[str, list[Any]] = {kind: [_json(k) for k in getattr(found, kind).samples] for kind in keys}
    samples["changed"] = [_changed(changes) for changes in found.changed.samples]
    return samples


def summary_line(report: Mapping[str, Any]) -> str:
    """The report in one line: what was compared, the rows on each side, and each kind found."""
    counts = report["counts"]
    window = report.get("window")
    span = f" {window['field']} {window['start']}..{window['end']}" if window else ""
    kinds = ", ".join(f"{kind} {count}" for kind, count in counts.items())
    rows = report["rows"]
    gaps = "" if report.get("gaps") is None else f", {counted(report['gaps'], 'gap')} (not misses)"
    return (
        f"{report['entity_set']}{span} ({report['strategy']}): "
        f"Business Central {counted(rows['business_central'], 'row')}, warehouse {counted(rows['warehouse'], 'row')}; "
        f"{kinds}{gaps}"
    )
