"""A reconciliation report as the engine writes it (``report.json``), for the tests of its HTML page."""

from __future__ import annotations

import copy
from typing import Any

REPORT: dict[str, Any] = {
    "version": 1,
    "strategy": "full",
    "entity_set": "itemLedgerEntries",
    "company_id": "5a3e8f4d-0000-4000-8000-000000000001",
    "key": "entryNumber",
    "window": {"field": "postingDate", "start": "2022-06-02", "end": "2022-06-03"},
    "filter": None,
    "warehouse": {"connection": "warehouse_db", "source": "public.item_ledger"},
    "started": "2026-12-07T07:00:00+00:00",
    "finished": "2026-12-07T07:00:12+00:00",
    "seconds": 12.5,
    "requests": {"business_central": 62, "warehouse": 51},
    "rows": {"business_central": 1_000_000, "warehouse": 999_990},
    "gaps": 12,
    "freshness": {"business_central": "2022-06-02T17:00:00Z", "warehouse": None},
    "counts": {
        "missing": 3,
        "extra": 1,
        "duplicate_business_central": 0,
        "duplicate_warehouse": 4,
        "changed": 2,
        "totals": 5,
    },
    "changed_by_field": {"quantity": 1, "costAmountActual": 1},
    "samples": {
        "missing": [17, 42, 43],
        "extra": [900001],
        "duplicate_business_central": [],
        "duplicate_warehouse": [55],
        "changed": [
            {
                "key": 10,
                "fields": [{"field": "quantity", "business_central": "5", "warehouse": "6", "difference": "1"}],
            },
            {
                "key": 11,
                "fields": [
                    {"field": "costAmountActual", "business_central": "10.5", "warehouse": "10", "difference": "0.5"}
                ],
            },
        ],
    },
    "totals": {
        "by": ["postingDate", "itemNumber"],
        "groups": 40,
        "beyond_tolerance": 5,
        "samples": [
            {
                "group": {"postingDate": "2022-06-02", "itemNumber": "1100"},
                "field": "quantity",
                "business_central": "10",
                "warehouse": "12",
                "difference": "2",
            }
        ],
    },
    "not_checked": [],
    "fail_on": {"missing": 0, "extra": 0},
    "failed": ["missing: 3 > 0", "extra: 1 > 0"],
}


def report(**changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`REPORT` with ``changes``."""
    return copy.deepcopy({**REPORT, **changes})
