"""Scheduled reconciliation of item ledger entries against an expected ledger.

For each data interval (one day), read the item ledger entries whose ``postingDate`` falls in it
(the OData filter is templated from the interval), total ``quantity`` and ``costAmountActual`` per
item with exact decimal arithmetic, and compare with the expected ledger kept beside this file
(``data/expected_item_ledger.csv``: daily totals per item, e.g. exported from a warehouse system).

Every difference is logged and written to a JSON report (``report_dir`` param, any
``ObjectStoragePath`` URL: local, S3, GCS, ADLS). The run **fails only when a difference exceeds
the ``tolerance`` param** (default 0.01): sub-ledgers legitimately differ by rounding cents, and a
reconciliation that fails on those is soon ignored; anything larger, or an item present on one
side only, fails the run so that somebody looks.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, AirflowFailException, ObjectStoragePath, task

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2
    from airflow.timetables.interval import CronDataIntervalTimetable

EXPECTED_LEDGER = Path(__file__).parent / "data" / "expected_item_ledger.csv"
MEASURES = ("quantity", "costAmountActual")

Totals = dict[str, dict[str, str]]  # item -> measure -> decimal as text (JSON-safe for XCom)


def total_by_item(entries: Iterable[Mapping[str, Any]]) -> Totals:
    """Sum the measures per item exactly (``Decimal`` from each value's shortest text form)."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(MEASURES, Decimal(0)))
    for entry in entries:
        for measure in MEASURES:
            sums[entry["itemNumber"]][measure] += Decimal(str(entry[measure]))
    return {item: {m: str(v) for m, v in measures.items()} for item, measures in sorted(sums.items())}


def read_expected(path: str, start: str, end: str) -> Totals:
    """Expected totals per item for posting dates in ``[start, end)`` from the CSV ledger."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(MEASURES, Decimal(0)))
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if start <= row["posting_date"] < end:
                sums[row["item_number"]]["quantity"] += Decimal(row["quantity"])
                sums[row["item_number"]]["costAmountActual"] += Decimal(row["cost_amount_actual"])
    return {item: {m: str(v) for m, v in measures.items()} for item, measures in sorted(sums.items())}


def differences(actual: Totals, expected: Totals, tolerance: Decimal) -> list[dict[str, Any]]:
    """Every (item, measure) whose totals differ, marked ``beyond_tolerance`` when they differ by more."""
    found = []
    for item in sorted(actual.keys() | expected.keys()):
        for measure in MEASURES:
            got = Decimal(actual.get(item, {}).get(measure, "0"))
            want = Decimal(expected.get(item, {}).get(measure, "0"))
            if got == want and (item in actual) == (item in expected):
                continue
            side = (
                ""
                if item in actual and item in expected
                else ("missing in Business Central" if item in expected else "not in the expected ledger")
            )
            found.append(
                {
                    "item": item,
                    "measure": measure,
                    "business_central": str(got),
                    "expected": str(want),
                    "difference": str(got - want),
                    "note": side,
                    "beyond_tolerance": bool(side) or abs(got - want) > tolerance,
                }
            )
    return found


with DAG(
    dag_id="bc_reconcile_item_ledger",
    # a real [start, end) interval per run (Airflow 3's plain "@daily" gives zero-length intervals)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2022, 6, 1, tz="UTC"),
    catchup=False,
    params={
        "expected_ledger": str(EXPECTED_LEDGER),
        "tolerance": "0.01",
        "report_dir": "file:///tmp/bc-reconciliation",
    },
    tags=["business-central", "example", "reconciliation"],
) as dag:

    @task
    def ledger_totals(odata_filter: str) -> Totals:
        """Item ledger totals per item in Business Central for the interval."""
        from airflow_provider_bc.hooks.business_central import BusinessCentralHook

        entries = BusinessCentralHook().iter_entities(
            "itemLedgerEntries", filter=odata_filter, select=["itemNumber", *MEASURES]
        )
        return total_by_item(entries)

    @task
    def expected_totals(start: str, end: str, params: dict[str, Any] | None = None) -> Totals:
        """Expected totals per item for the interval."""
        return read_expected(str((params or {})["expected_ledger"]), start, end)

    @task
    def reconcile(actual: Totals, expected: Totals, day: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Report every difference; fail when one is beyond the tolerance."""
        settings = params or {}
        tolerance = Decimal(str(settings["tolerance"]))
        found = differences(actual, expected, tolerance)
        report = {"date": day, "tolerance": str(tolerance), "items": len(actual), "differences": found}
        target = ObjectStoragePath(str(settings["report_dir"])) / f"item-ledger-{day}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(report, indent=2))
        for diff in found:
            print(
                f"{'BEYOND' if diff['beyond_tolerance'] else 'within'} tolerance: item {diff['item']} "
                f"{diff['measure']}: Business Central {diff['business_central']} vs expected {diff['expected']} "
                f"(difference {diff['difference']}) {diff['note']}".rstrip()
            )
        beyond = [d for d in found if d["beyond_tolerance"]]
        print(
            f"Reconciled {len(actual)} items for {day}: {len(found)} differences, "
            f"{len(beyond)} beyond tolerance; report {target}"
        )
        if beyond:
            raise AirflowFailException(f"{len(beyond)} differences beyond tolerance {tolerance}; see {target}")
        return report

    start, end = "{{ data_interval_start | ds }}", "{{ data_interval_end | ds }}"
    reconcile(
        ledger_totals(f"postingDate ge {start} and postingDate lt {end}"),
        expected_totals(start, end),
        day=start,
    )
