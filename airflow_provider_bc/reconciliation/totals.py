"""What is summed or watched as rows pass, on each side: totals per group and the newest change."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from airflow_provider_bc.reconciliation.compare import Row, Tolerance, comparable

SIDES = ("business_central", "warehouse")


class GroupTotals:
    """The sums of the numeric ``fields`` per group of ``by`` values, on both sides."""

    def __init__(self, by: tuple[str, ...], fields: Mapping[str, Tolerance]) -> None:
        self.by, self.fields = by, fields
        #: group -> field -> [Business Central's sum, the warehouse's sum]
        self.sums: dict[tuple[Any, ...], dict[str, list[Decimal]]] = {}

    def tap(self, rows: Iterable[Row], side: int) -> Iterator[Row]:
        """``rows`` unchanged, each one's numbers added to its group's sums on ``side`` (0 or 1)."""
        for row in rows:
            group = tuple(comparable(row.get(name)) for name in self.by)
            sums = self.sums.get(group)
            if sums is None:
                sums = self.sums[group] = {name: [Decimal(0), Decimal(0)] for name in self.fields}
            for name in self.fields:
                value = comparable(row.get(name))
                if isinstance(value, Decimal):
                    sums[name][side] += value
            yield row

    def beyond_tolerance(self, samples: int) -> tuple[int, list[dict[str, Any]]]:
        """How many (group, field) sums differ beyond the field's tolerance, with the first ``samples``."""
        count, found = 0, list[dict[str, Any]]()
        for group, sums in sorted(self.sums.items(), key=lambda item: repr(item[0])):
            for name, (ours, theirs) in sums.items():
                if self.fields[name].allows(ours, theirs):
                    continue
                count += 1
                if len(found) < samples:
                    found.append(
                        {
                            "group": {
                                b: str(v) if v is not None else None for b, v in zip(self.by, group, strict=True)
                            },
                            "field": name,
                            "business_central": str(ours),
                            "warehouse": str(theirs),
                            "difference": str(theirs - ours),
                        }
                    )
        return count, found


class Newest:
    """The newest value of ``field`` seen on each side (ISO times compare as instants)."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.newest: list[Any] = [None, None]

    def tap(self, rows: Iterable[Row], side: int) -> Iterator[Row]:
        for row in rows:
            value = comparable(row.get(self.field))
            if value is not None and (self.newest[side] is None or value > self.newest[side]):
                self.newest[side] = value
            yield row

    def describe(self) -> dict[str, Any]:
        return {side: None if value is None else str(value) for side, value in zip(SIDES, self.newest, strict=True)}
