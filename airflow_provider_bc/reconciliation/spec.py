"""What a reconciliation compares: the Business Central side, the window, the key, the fields and
their tolerances, the totals and the strategy, each argument checked before any request."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args

from airflow_provider_bc.client.key_ranges import ENTRY_NUMBER
from airflow_provider_bc.client.odata.filters import all_of, clause
from airflow_provider_bc.client.values import EntitySet
from airflow_provider_bc.reconciliation.compare import Tolerance
from airflow_provider_bc.reconciliation.errors import ReconciliationError

Strategy = Literal["full", "counts", "auto"]
LAST_MODIFIED = "lastModifiedDateTime"
#: failure thresholds may name these kinds (``duplicate``: on either side)
KINDS = ("missing", "extra", "duplicate", "changed", "totals")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def field_name(value: Any, argument: str) -> str:
    """``value`` as a Business Central field name (letters, digits, ``_``), or an error naming ``argument``."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ReconciliationError(argument, f"{value!r} is not a field name (letters, digits and _)")
    return value


def window_value(value: Any, argument: str) -> dt.date | dt.datetime:
    """A window bound: a ``date``, an aware ``datetime``, or their ISO text (rendered templates are text)."""
    if isinstance(value, dt.datetime | dt.date):
        found = value
    else:
        text = str(value).strip()
        parse = dt.date.fromisoformat if isinstance(value, str) and _DATE.match(text) else dt.datetime.fromisoformat
        try:
            found = parse(text)
        except ValueError:
            raise ReconciliationError(argument, f"{value!r:.100} is not a date or an ISO 8601 time") from None
    if isinstance(found, dt.datetime) and found.tzinfo is None:
        raise ReconciliationError(argument, f"{found.isoformat()} has no time zone; give one (e.g. +00:00)")
    return found


def tolerance_of(value: Any, argument: str) -> Tolerance:
    """A field's tolerance from ``None`` (exact), a number (absolute) or ``{"absolute": .., "relative": ..}``."""
    if value is None:
        return Tolerance()
    given = value if isinstance(value, Mapping) else {"absolute": value}
    unknown = set(given) - {"absolute", "relative"}
    if unknown:
        raise ReconciliationError(argument, f"unknown tolerance keys {sorted(unknown)}: use absolute and relative")
    bounds: dict[str, Decimal] = {}
    for name, bound in given.items():
        try:
            number = Decimal(str(bound)) if not isinstance(bound, bool) else Decimal("NaN")
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number < 0:
            raise ReconciliationError(f"{argument}.{name}", f"{bound!r} is not a number at or above 0")
        bounds[name] = number
    return Tolerance(**bounds)


@dataclass(frozen=True)
class Window:
    """Rows whose ``field`` is at or after ``start`` and before ``end``, on both sides."""

    field: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime

    def odata(self) -> str:
        return all_of([clause(self.field, "ge", self.start), clause(self.field, "lt", self.end)])

    def describe(self) -> dict[str, str]:
        return {"field": self.field, "start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class ReconcileSpec:
    """The Business Central side of a reconciliation and how it is compared."""

    entity_set: EntitySet
    company_id: str | None
    key: str = ENTRY_NUMBER
    fields: Mapping[str, Tolerance] = field(default_factory=dict)
    window: Window | None = None
    filter: str | None = None
    totals_by: tuple[str, ...] = ()
    freshness: str | None = None
    strategy: Strategy = "auto"
    samples: int = 20
    max_streams: int = 5

    @property
    def streamed(self) -> bool:
        """Whether both sides are read in key order and merged as they come (whole-number ``entryNumber``
        keys); other keys (``id``, ``number``) sort differently in SQL Server and the warehouse, so both
        sides are read whole and sorted here."""
        return self.key == ENTRY_NUMBER

    @property
    def chosen(self) -> Literal["full", "counts"]:
        """The strategy run: ``auto`` counts when there are no fields, totals or freshness to read."""
        if self.strategy != "auto":
            return self.strategy
        return "counts" if self.streamed and not (self.fields or self.totals_by or self.freshness) else "full"

    def bc_filter(self) -> str | None:
        """The OData filter of the rows compared: the window and ``filter``."""
        return all_of([self.filter or "", self.window.odata() if self.window else ""]) or None

    def columns(self) -> list[str]:
        """The Business Central fields read: the key, the compared fields, the totals' groups, freshness."""
        wanted = [self.key, *self.fields, *self.totals_by, *([self.freshness] if self.freshness else [])]
        return list(dict.fromkeys(wanted))


def build_spec(
    *,
    entity_set: Any,
    company_id: str | None,
    key: Any = ENTRY_NUMBER,
    fields: Mapping[str, Any] | Sequence[str] | None = None,
    window: tuple[Any, Any, Any] | None = None,
    filter: str | None = None,
    totals_by: Sequence[str] | str | None = None,
    freshness: str | None = None,
    strategy: Any = "auto",
    samples: Any = 20,
    max_streams: Any = 5,
) -> ReconcileSpec:
    """A :class:`ReconcileSpec` from task arguments, each checked (an error names the argument)."""
    named = dict.fromkeys(fields) if isinstance(fields, Sequence) and not isinstance(fields, str) else fields
    if named is not None and not isinstance(named, Mapping):
        raise ReconciliationError("fields", f"{fields!r:.100} is neither a list of fields nor a mapping to tolerances")
    tolerances = {field_name(n, "fields"): tolerance_of(t, f"fields.{n}") for n, t in (named or {}).items()}
    groups = totals_by.split(",") if isinstance(totals_by, str) else list(totals_by or [])
    if strategy not in get_args(Strategy):
        raise ReconciliationError("strategy", f"{strategy!r} is not one of {', '.join(get_args(Strategy))}")
    for argument, number, low, high in (("samples", samples, 0, 10_000), ("max_streams", max_streams, 1, 5)):
        if type(number) is not int or not low <= number <= high:
            raise ReconciliationError(argument, f"{number!r} is not a whole number from {low} to {high}")
    span = None
    if window is not None:
        name, start, end = window
        span = Window(
            field_name(name, "window_field"), window_value(start, "window_start"), window_value(end, "window_end")
        )
        if isinstance(span.start, dt.datetime) != isinstance(span.end, dt.datetime):
            raise ReconciliationError(
                "window_end", f"{span.end} and window_start {span.start} must both be dates or both be times"
            )
        if span.start >= span.end:
            raise ReconciliationError("window_end", f"{span.end} is not after window_start {span.start}")
    spec = ReconcileSpec(
        entity_set=EntitySet.of(entity_set, "entity_set"),
        company_id=company_id,
        key=field_name(key, "key"),
        fields=tolerances,
        window=span,
        filter=filter or None,
        totals_by=tuple(field_name(g.strip(), "totals_by") for g in groups),
        freshness=field_name(freshness, "freshness") if freshness else None,
        strategy=strategy,
        samples=samples,
        max_streams=max_streams,
    )
    if spec.strategy == "counts" and not spec.streamed:
        raise ReconciliationError("strategy", f"counts needs the whole-number key {ENTRY_NUMBER}, not {spec.key!r}")
    if spec.key in tolerances:
        raise ReconciliationError("fields", f"the key {spec.key!r} is compared by the merge, not as a field")
    return spec
