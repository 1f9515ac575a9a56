"""Two key-ordered streams of rows, Business Central's and the warehouse's, compared in one pass.

Memory stays flat in the number of rows: only the current row of each side, the counts and at most
``samples`` examples of each kind are held. Each side must come in ascending key order (a key lower
than the one before is refused: a merge would report wrong misses). Keys absent on both sides are no
difference: Business Central's entry numbers come from SQL sequences, with gaps; those are counted
apart (:attr:`Differences.gaps`) for whole-number keys.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from airflow_provider_bc.reconciliation.errors import ReconciliationError

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Tolerance:
    """How far two numbers may differ: within ``absolute``, or within ``relative`` of the larger one."""

    absolute: Decimal = Decimal(0)
    relative: Decimal = Decimal(0)

    def allows(self, ours: Decimal, theirs: Decimal) -> bool:
        """Whether ``ours`` and ``theirs`` agree within this tolerance (exact ``Decimal`` arithmetic)."""
        difference = abs(ours - theirs)
        return difference <= self.absolute or difference <= self.relative * max(abs(ours), abs(theirs))


class Change(NamedTuple):
    """A field that differs beyond its tolerance: both values, and their difference when both are numbers."""

    key: Hashable
    field: str
    business_central: Any
    warehouse: Any
    difference: Decimal | None


@dataclass
class Kind:
    """How many of one kind of difference, with the first ``limit`` examples."""

    limit: int
    count: int = 0
    samples: list[Any] = field(default_factory=list)

    def add(self, example: Any) -> None:
        self.count += 1
        if len(self.samples) < self.limit:
            self.samples.append(example)


@dataclass
class Differences:
    """What a comparison found: rows on each side and each kind of difference."""

    samples: int
    rows_business_central: int = 0
    rows_warehouse: int = 0
    #: whole numbers between consecutive Business Central keys that no row holds (sequence gaps)
    gaps: int = 0
    missing: Kind = field(init=False)
    extra: Kind = field(init=False)
    duplicate_business_central: Kind = field(init=False)
    duplicate_warehouse: Kind = field(init=False)
    changed: Kind = field(init=False)
    changed_by_field: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("missing", "extra", "duplicate_business_central", "duplicate_warehouse", "changed"):
            setattr(self, name, Kind(self.samples))

    @property
    def found(self) -> bool:
        """Whether anything differs (gaps are no difference)."""
        kinds = (self.missing, self.extra, self.duplicate_business_central, self.duplicate_warehouse, self.changed)
        return any(kind.count for kind in kinds)


_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def comparable(value: Any) -> Any:
    """A value as compared: numbers as ``Decimal`` (``bool`` stays itself), dates as ISO text, times
    (``datetime`` or ISO text; naive ones taken as UTC, as Business Central's are) as UTC text of one shape."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and _ISO_TIME.match(value):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        return aware.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class _Side:
    """One side's rows in key order: the current row, duplicates skipped and counted."""

    def __init__(self, name: str, rows: Iterable[Row], key: str, duplicates: Kind) -> None:
        self._name, self._rows, self._key, self._duplicates = name, iter(rows), key, duplicates
        self.count = 0
        #: whole numbers skipped between consecutive keys
        self.gaps = 0
        self.row: Row | None = None
        self.key: Any = None
        self.advance()

    def advance(self) -> None:
        """Move to the next row with a new key (rows repeating the current key are duplicates)."""
        previous = self.key if self.row is not None else None
        for row in self._rows:
            self.count += 1
            if self._key not in row:
                raise ReconciliationError(self._key, f"a {self._name} row has no key {self._key!r}: {dict(row)!r:.200}")
            key = row[self._key]
            if previous is not None and key == previous:
                self._duplicates.add(key)
                continue
            if previous is not None and key < previous:
                raise ReconciliationError(
                    self._key,
                    f"{self._name} rows are not in ascending key order: {key!r} came after {previous!r} (a number "
                    "held as text sorts as text: give the key column a number type, or a query that casts it)",
                )
            if isinstance(key, int) and isinstance(previous, int):
                self.gaps += key - previous - 1
            self.row, self.key = row, key
            return
        self.row, self.key = None, None


def _changes(key: Hashable, ours: Row, theirs: Row, fields: Mapping[str, Tolerance]) -> Iterator[Change]:
    for name, tolerance in fields.items():
        a, b = comparable(ours.get(name)), comparable(theirs.get(name))
        if isinstance(a, Decimal) and isinstance(b, Decimal):
            if not tolerance.allows(a, b):
                yield Change(key, name, ours.get(name), theirs.get(name), b - a)
        elif (type(a), a) != (type(b), b):  # True is not 1
            yield Change(key, name, ours.get(name), theirs.get(name), None)


def _before(a: Any, b: Any, key: str) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        raise ReconciliationError(
            key, f"keys {a!r} and {b!r} cannot be ordered together: give both sides the key as the same type"
        ) from None


def compare(
    business_central: Iterable[Row],
    warehouse: Iterable[Row],
    *,
    key: str,
    fields: Mapping[str, Tolerance],
    samples: int = 20,
) -> Differences:
    """Merge both sides by ``key`` (each in ascending key order) and compare ``fields`` of the rows in both."""
    found = Differences(samples)
    ours = _Side("Business Central", business_central, key, found.duplicate_business_central)
    theirs = _Side("warehouse", warehouse, key, found.duplicate_warehouse)
    while ours.row is not None or theirs.row is not None:
        if theirs.row is None or (ours.row is not None and _before(ours.key, theirs.key, key)):
            found.missing.add(ours.key)
            ours.advance()
        elif ours.row is None or _before(theirs.key, ours.key, key):
            found.extra.add(theirs.key)
            theirs.advance()
        else:
            changes = list(_changes(ours.key, ours.row, theirs.row, fields))
            for change in changes:
                found.changed_by_field[change.field] = found.changed_by_field.get(change.field, 0) + 1
            if changes:
                found.changed.add(changes)
            ours.advance()
            theirs.advance()
    found.rows_business_central, found.rows_warehouse, found.gaps = ours.count, theirs.count, ours.gaps
    return found
