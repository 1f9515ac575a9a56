"""A reconciliation from start to report: the strategy chosen, both sides read, compared, summed."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from airflow_provider_bc.client.values import is_guid
from airflow_provider_bc.reconciliation.business_central import BusinessCentralSide
from airflow_provider_bc.reconciliation.compare import Differences, Row, comparable, compare
from airflow_provider_bc.reconciliation.counts import count_ranges, keys_in, warehouse_keys_in
from airflow_provider_bc.reconciliation.errors import ReconciliationError
from airflow_provider_bc.reconciliation.report import (
    REPORT_VERSION,
    counts_of,
    failures,
    samples_of,
)
from airflow_provider_bc.reconciliation.spec import ReconcileSpec
from airflow_provider_bc.reconciliation.totals import GroupTotals, Newest
from airflow_provider_bc.reconciliation.warehouse import Warehouse

log = logging.getLogger(__name__)

COUNTS_NOT_CHECKED = (
    "changed values and totals: the counts strategy compares the keys only",
    "a key range where as many keys are missing as are extra: its counts agree",
)


def whole_number(value: Any, side: str, key: str) -> int:
    """A whole-number key as ``int`` (warehouses may hold it as ``numeric`` or text)."""
    if type(value) is int:
        return value
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite() or number != number.to_integral_value():
        raise ReconciliationError(key, f"a {side} row's key {value!r:.100} is not a whole number")
    return int(number)


def keyed(rows: Iterable[Row], key: str, whole: bool, side: str) -> Iterator[Row]:
    """``rows`` with their key in the form both sides share: ``int``, lower-case GUID text, or as compared."""
    for row in rows:
        value = row.get(key)
        if whole:
            shared: Any = whole_number(value, side, key)
        elif is_guid(str(value)):
            shared = str(value).lower()
        else:
            shared = comparable(value)
        yield row if shared is value else {**row, key: shared}


class Reconciliation:
    """Compares what ``spec`` selects in Business Central with the ``warehouse``."""

    def __init__(self, spec: ReconcileSpec, business_central: BusinessCentralSide, warehouse: Warehouse) -> None:
        self.spec, self.business_central, self.warehouse = spec, business_central, warehouse

    def _sides(self) -> tuple[Iterable[Row], Iterable[Row]]:
        spec, key, whole = self.spec, self.spec.key, self.spec.streamed
        ours: Iterable[Row] = (
            self.business_central.rows_in_key_order(self.business_central.span())
            if whole
            else self.business_central.rows()
        )
        theirs: Iterable[Row] = self.warehouse.rows(spec.columns(), window=spec.window, key=key, ordered=whole)
        ours, theirs = keyed(ours, key, whole, "Business Central"), keyed(theirs, key, whole, "warehouse")
        if whole:
            return ours, theirs
        # other keys sort differently in SQL Server and in the warehouse: both sides sorted here
        return sorted(ours, key=lambda row: repr(row[key])), sorted(theirs, key=lambda row: repr(row[key]))

    def _full(self) -> tuple[Differences, dict[str, Any]]:
        spec = self.spec
        ours, theirs = self._sides()
        totals = GroupTotals(spec.totals_by, spec.fields) if spec.totals_by else None
        newest = Newest(spec.freshness) if spec.freshness else None
        for tap in (totals, newest):
            if tap is not None:
                ours, theirs = tap.tap(ours, 0), tap.tap(theirs, 1)
        found = compare(ours, theirs, key=spec.key, fields=spec.fields, samples=spec.samples)
        extra: dict[str, Any] = {
            "gaps": found.gaps if spec.streamed else None,
            "freshness": newest.describe() if newest else None,
            "totals": None,
            "totals_beyond": 0,
            "not_checked": [],
        }
        if totals is not None:
            beyond, samples = totals.beyond_tolerance(spec.samples)
            extra["totals_beyond"] = beyond
            extra["totals"] = {
                "by": list(spec.totals_by),
                "groups": len(totals.sums),
                "beyond_tolerance": beyond,
                "samples": samples,
            }
        return found, extra

    def _counts(self) -> tuple[Differences, dict[str, Any]]:
        spec = self.spec
        span = _union(
            self.business_central.span(),
            self.warehouse.key_span(window=spec.window, key=spec.key),
            spec.key,
        )
        counted = count_ranges(self.business_central, self.warehouse, span)
        ours = keyed(keys_in(self.business_central, counted.differing), spec.key, True, "Business Central")
        theirs = keyed(
            warehouse_keys_in(self.warehouse, spec.key, counted.differing, spec.window), spec.key, True, "warehouse"
        )
        found = compare(ours, theirs, key=spec.key, fields={}, samples=spec.samples)
        found.rows_business_central, found.rows_warehouse = counted.rows_business_central, counted.rows_warehouse
        extra = {
            "gaps": None,
            "freshness": None,
            "totals": None,
            "totals_beyond": 0,
            "not_checked": list(COUNTS_NOT_CHECKED),
        }
        return found, extra

    def run(self, fail_on: Mapping[str, int], *, description: Mapping[str, Any]) -> dict[str, Any]:
        """Reconcile and return the report (``description``: what the caller adds, e.g. the warehouse)."""
        spec = self.spec
        started, clock = dt.datetime.now(dt.timezone.utc), time.monotonic()
        strategy = spec.chosen
        log.info("Reconciling %s by %s with the %s strategy", spec.entity_set, spec.key, strategy)
        found, extra = self._full() if strategy == "full" else self._counts()
        counts = counts_of(found, extra.pop("totals_beyond"))
        return {
            "version": REPORT_VERSION,
            "strategy": strategy,
            "entity_set": str(spec.entity_set),
            "company_id": spec.company_id,
            "key": spec.key,
            "window": spec.window.describe() if spec.window else None,
            "filter": spec.filter,
            **description,
            "started": started.isoformat(),
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(),
            "seconds": round(time.monotonic() - clock, 3),
            "requests": {"business_central": self.business_central.requests, "warehouse": self.warehouse.requests},
            "rows": {"business_central": found.rows_business_central, "warehouse": found.rows_warehouse},
            "gaps": extra["gaps"],
            "freshness": extra["freshness"],
            "counts": counts,
            "changed_by_field": dict(found.changed_by_field),
            "samples": samples_of(found),
            "totals": extra["totals"],
            "not_checked": extra["not_checked"],
            "fail_on": dict(fail_on),
            "failed": failures(counts, fail_on),
        }


def _union(ours: tuple[int, int] | None, theirs: tuple[Any, Any] | None, key: str) -> tuple[int, int] | None:
    """The span covering both sides' lowest and highest keys."""
    spans = [ours] if ours else []
    if theirs:
        spans.append((whole_number(theirs[0], "warehouse", key), whole_number(theirs[1], "warehouse", key)))
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
