"""$filter, $select and $orderby answers equal a plain-Python recomputation over the same data."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"
Entry = dict[str, Any]


def instant(text: str) -> datetime:
    """An ISO-8601 datetime with Z or an offset, parsed without relying on newer fromisoformat."""
    match = re.fullmatch(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    assert match, text
    *parts, fraction, zone = match.groups()
    moment = datetime(*map(int, parts), int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone.utc)
    if zone != "Z":
        moment -= (-1 if zone[0] == "-" else 1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:]))
    return moment


FILTERS: list[tuple[str, Callable[[Entry], bool]]] = [
    ("description eq 'O''Brien'", lambda e: e["description"] == "O'Brien"),
    ("contains(description,'O''Brien')", lambda e: "O'Brien" in e["description"]),
    ("startswith(description,'Delivery to O''Brien')", lambda e: e["description"].startswith("Delivery to O'Brien")),
    ("endswith(description,'bicycle')", lambda e: e["description"].endswith("bicycle")),
    ("contains(description,'Ünïcode')", lambda e: "Ünïcode" in e["description"]),
    ("description eq 'Café Møller – 50% off'", lambda e: e["description"] == "Café Møller – 50% off"),
    ("contains(tolower(description),'o''brien')", lambda e: "o'brien" in e["description"].lower()),
    ("toupper(description) eq 'ÜNÏCODE BICYCLE'", lambda e: e["description"].upper() == "ÜNÏCODE BICYCLE"),
    ("description ne '' and entryNumber le 500", lambda e: e["description"] != "" and e["entryNumber"] <= 500),
    (
        "postingDate ge 2023-01-01 and postingDate lt 2023-02-01",
        lambda e: "2023-01-01" <= e["postingDate"] < "2023-02-01",
    ),
    (
        "lastModifiedDateTime gt 2023-06-01T08:30:00.5Z",
        lambda e: instant(e["lastModifiedDateTime"]) > instant("2023-06-01T08:30:00.5Z"),
    ),
    (
        "lastModifiedDateTime le 2022-09-01T10:00:00+02:00",
        lambda e: instant(e["lastModifiedDateTime"]) <= instant("2022-09-01T08:00:00Z"),
    ),
    ("lastModifiedDateTime eq 0001-01-01T00:00:00Z", lambda e: e["lastModifiedDateTime"] == "0001-01-01T00:00:00Z"),
    (f"id eq {DOCUMENTED_ID.upper()}", lambda e: e["id"] == DOCUMENTED_ID),
    (f"id ne {DOCUMENTED_ID} and entryNumber le 10", lambda e: e["id"] != DOCUMENTED_ID and e["entryNumber"] <= 10),
    ("quantity lt -30", lambda e: e["quantity"] < -30),
    (
        "costAmountActual ge 10000.5 and costAmountActual le 20000",
        lambda e: 10000.5 <= e["costAmountActual"] <= 20000,
    ),
    (
        "salesAmountActual eq 0 and entryNumber le 1000",
        lambda e: e["salesAmountActual"] == 0 and e["entryNumber"] <= 1000,
    ),
    ("entryNumber gt 100 and entryNumber le 250", lambda e: 100 < e["entryNumber"] <= 250),
    ("entryType eq 'Positive_x0020_Adjmt_x002E_'", lambda e: e["entryType"] == "Positive_x0020_Adjmt_x002E_"),
    (
        "sourceType eq '_x0020_' and documentType ne '_x0020_'",
        lambda e: e["sourceType"] == "_x0020_" != e["documentType"],
    ),
    (
        "sourceType eq 'Customer' and documentType eq 'Sales_x0020_Shipment'",
        lambda e: e["sourceType"] == "Customer" and e["documentType"] == "Sales_x0020_Shipment",
    ),
    (
        "(entryType eq 'Sale' or entryType eq 'Purchase') and (quantity gt 100 or quantity lt -35)",
        lambda e: e["entryType"] in ("Sale", "Purchase") and (e["quantity"] > 100 or e["quantity"] < -35),
    ),
    ("itemNumber eq '1896-S' or itemNumber eq '70000'", lambda e: e["itemNumber"] in ("1896-S", "70000")),
    ("documentNumber eq 'START-MANF'", lambda e: e["documentNumber"] == "START-MANF"),
]


@pytest.mark.parametrize(("odata_filter", "predicate"), FILTERS, ids=[f for f, _ in FILTERS])
def test_filter_equals_python(
    api: Any, all_entries: list[Entry], odata_filter: str, predicate: Callable[[Entry], bool]
) -> None:
    expected = [e["id"] for e in all_entries if predicate(e)]
    assert 0 < len(expected) < len(all_entries)  # each filter really selects something
    pages = api.pages(api.entries_path(), {"$filter": odata_filter, "$select": "id"})
    assert [e["id"] for _, body in pages for e in body["value"]] == expected


def test_consistent_enum_values(all_entries: list[Entry]) -> None:
    shapes = {(e["entryType"], e["sourceType"], e["documentType"]) for e in all_entries}
    assert ("Sale", "Customer", "Sales_x0020_Shipment") in shapes
    assert ("Purchase", "Vendor", "Purchase_x0020_Receipt") in shapes
    assert all(e["quantity"] < 0 for e in all_entries if e["entryType"] == "Sale")
    assert all(e["quantity"] > 0 for e in all_entries if e["entryType"] == "Purchase")
    assert all(" " not in value and "." not in value for shape in shapes for value in shape)
    dates = [e["postingDate"] for e in all_entries]
    assert dates == sorted(dates) and dates[0] == "2022-06-01"


def test_select_keeps_the_etag_and_the_field_order(api: Any, all_entries: list[Entry]) -> None:
    body = api.get(api.entries_path(), {"$select": "quantity,id,lastModifiedDateTime", "$top": 3}).json()
    assert body["@odata.context"].endswith("/itemLedgerEntries(quantity,id,lastModifiedDateTime)")
    assert body["value"] == [
        {k: e[k] for k in ("@odata.etag", "quantity", "id", "lastModifiedDateTime")} for e in all_entries[:3]
    ]
    assert [list(v) for v in body["value"]] == [["@odata.etag", "quantity", "id", "lastModifiedDateTime"]] * 3


def test_entries_of_another_company(api: Any) -> None:
    company = api.emulator.companies[2]
    by_name = api.get("/itemLedgerEntries", {"company": company["name"], "$select": "id", "$top": 3}).json()
    by_id = api.get(api.entries_path(company["id"]), {"$select": "id", "$top": 3}).json()
    assert by_name["value"] == by_id["value"] and len(by_id["value"]) == 3
    assert DOCUMENTED_ID not in {e["id"] for e in by_id["value"]}
