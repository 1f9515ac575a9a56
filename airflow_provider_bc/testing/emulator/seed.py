"""The emulator's fake world: identities, companies and deterministic item ledger entries."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

TENANT_ID = "5d1e2f3a-6b7c-4d8e-9f01-a2b3c4d5e6f7"
TENANT_DOMAIN = "cronus.onmicrosoft.com"
DEFAULT_CLIENT_ID = "0f3a6c1d-5b7e-4e2a-9c8d-1e4f7a2b6c90"
ENVIRONMENTS = ("production", "sandbox")
DOCUMENTED_ENTRY_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"
OTHER_COMPANY_ENTRIES = 200
NEVER_MODIFIED = "0001-01-01T00:00:00Z"
FIRST_POSTING_DATE = date(2022, 6, 1)

# Microsoft's documented example ("Get itemLedgerEntries"), entry 1 of the default company.
DOCUMENTED_ENTRY: dict[str, Any] = {
    "@odata.etag": 'W/"JzQ0O2ZyaTlPVmR6WUxDOEJyMExqOER1WXgxR0IvanErd0t4WXM0ckpzY20xSkU9MTswMDsn"',
    "id": DOCUMENTED_ENTRY_ID,
    "entryNumber": 1,
    "itemNumber": "1100",
    "postingDate": "2022-06-01",
    "entryType": "Positive_x0020_Adjmt_x002E_",
    "sourceNumber": "",
    "sourceType": "_x0020_",
    "documentNumber": "START-MANF",
    "documentType": "_x0020_",
    "description": "",
    "quantity": 200,
    "salesAmountActual": 0,
    "costAmountActual": 25934.2,
    "lastModifiedDateTime": "2021-08-17T11:57:21.73Z",
}


@dataclass(frozen=True)
class CompanySeed:
    """A seeded company: its fixed id and name."""

    id: str
    name: str


COMPANIES = (
    CompanySeed("3e5a0f1c-52ff-eb11-bb76-000d3a220646", "CRONUS USA, Inc."),
    CompanySeed("5c6b1e2d-52ff-eb11-bb76-000d3a220646", "CRONUS International Ltd."),
    CompanySeed("7a8c2f3e-52ff-eb11-bb76-000d3a220646", "O'Brien & Søn A/S"),
)
DEFAULT_COMPANY_ID = COMPANIES[0].id

DESCRIPTIONS = (
    "O'Brien",
    "Delivery to O'Brien & Co.",
    "Ünïcode bicycle",
    "Café Møller – 50% off",
    "ATHENS Desk",
    "PARIS Guest Chair, black",
    "Touring Bicycle",
    "Front Hub",
    "Spokes for Touring Bike",
    "Opening balance",
    "Transfer to EAST",
    "Returned by customer",
)
ITEM_NUMBERS = (
    *(str(number) for number in range(1000, 2000, 25)),
    *("1896-S", "1906-S", "1920-S", "1968-S", "70000", "70001", "70010", "70040", "70100", "70101"),
)
# (item number, unit cost)
ITEMS = tuple((number, round(9.75 + index * 13.4, 2)) for index, number in enumerate(ITEM_NUMBERS))
CUSTOMERS = ("10000", "20000", "30000", "40000", "50000", "60000")
VENDORS = ("10000", "20000", "30000", "40000", "50000")
BLANK = "_x0020_"


@dataclass(frozen=True)
class EntryShape:
    """How one entry type is posted: source, document, sign of the quantity, number series."""

    entry_type: str
    source_type: str
    document_type: str
    sign: int
    document: str  # format string for the document number, given the entry number modulo 1000
    weight: int


SHAPES = (
    EntryShape("Sale", "Customer", "Sales_x0020_Shipment", -1, "102{:03d}", 34),
    EntryShape("Purchase", "Vendor", "Purchase_x0020_Receipt", 1, "107{:03d}", 25),
    EntryShape("Positive_x0020_Adjmt_x002E_", BLANK, BLANK, 1, "T00{:03d}", 8),
    EntryShape("Negative_x0020_Adjmt_x002E_", BLANK, BLANK, -1, "T00{:03d}", 5),
    EntryShape("Transfer", BLANK, "Transfer_x0020_Shipment", -1, "108{:03d}", 5),
    EntryShape("Transfer", BLANK, "Transfer_x0020_Receipt", 1, "109{:03d}", 5),
    EntryShape("Consumption", "Item", BLANK, -1, "101{:03d}", 6),
    EntryShape("Output", "Item", BLANK, 1, "101{:03d}", 6),
    EntryShape("Assembly_x0020_Consumption", "Item", "Posted_x0020_Assembly", -1, "A00{:03d}", 2),
    EntryShape("Assembly_x0020_Output", "Item", "Posted_x0020_Assembly", 1, "A00{:03d}", 2),
    EntryShape(BLANK, BLANK, BLANK, 1, "START-MANF", 2),
)
_SHAPE_WEIGHTS = list(itertools.accumulate(shape.weight for shape in SHAPES))
_TOTAL_WEIGHT = float(_SHAPE_WEIGHTS[-1])


def company_entities() -> list[dict[str, Any]]:
    """The companies with all the fields BC's ``companies`` entity set returns."""
    created = "2021-08-17T11:55:03.357Z"
    system_user = "00000000-0000-0000-0000-000000000001"
    return [
        {
            "id": company.id,
            "systemVersion": "24.0.16410.18040",
            "timestamp": 28731 + index,
            "name": company.name,
            "displayName": company.name,
            "businessProfileId": "",
            "systemCreatedAt": created,
            "systemCreatedBy": system_user,
            "systemModifiedAt": created,
            "systemModifiedBy": system_user,
        }
        for index, company in enumerate(COMPANIES)
    ]


def random_guid(rng: random.Random) -> str:
    """A BC-looking SystemId: sequential-GUID layout with 48 random bits."""
    bits = rng.getrandbits(48)
    return f"{bits >> 16:08x}-{bits & 0xFFFF:04x}-eb11-bb76-000d3a220646"


def new_entry(rng: random.Random, entry_number: int, posting_date: date) -> dict[str, Any]:
    """One plausible, internally consistent item ledger entry (without id)."""
    # rng.choices(SHAPES, cum_weights=_SHAPE_WEIGHTS)[0], the same draw without its per-call overhead
    shape = SHAPES[bisect.bisect(_SHAPE_WEIGHTS, rng.random() * _TOTAL_WEIGHT, 0, len(SHAPES) - 1)]
    item_number, unit_cost = rng.choice(ITEMS)
    quantity = shape.sign * rng.randint(1, 120 if shape.sign > 0 else 40)
    if shape.source_type == "Customer":
        source = rng.choice(CUSTOMERS)
    elif shape.source_type == "Vendor":
        source = rng.choice(VENDORS)
    else:
        source = item_number if shape.source_type == "Item" else ""
    seconds, millis = divmod(rng.randrange(6 * 3600_000, 18 * 3600_000), 1000)
    minutes, seconds = divmod(seconds, 60)
    fraction = f".{millis:03d}".rstrip("0").rstrip(".")
    modified = f"{posting_date}T{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}{fraction}Z"
    return {
        "entryNumber": entry_number,
        "itemNumber": item_number,
        "postingDate": posting_date.isoformat(),
        "entryType": shape.entry_type,
        "sourceNumber": source,
        "sourceType": shape.source_type,
        "documentNumber": shape.document.format(entry_number % 1000),
        "documentType": shape.document_type,
        "description": rng.choice(DESCRIPTIONS) if rng.random() < 0.45 else "",
        "quantity": quantity,
        "salesAmountActual": round(-quantity * unit_cost * 1.4, 2) if shape.entry_type == "Sale" else 0,
        "costAmountActual": round(quantity * unit_cost, 2),
        "lastModifiedDateTime": NEVER_MODIFIED if rng.random() < 0.02 else modified,
    }


def item_ledger_entries(seed: int, company_index: int, count: int) -> Iterator[dict[str, Any]]:
    """The seeded entries of one company; entry 1 of the first company is Microsoft's example."""
    rng = random.Random(f"{seed}:{company_index}")  # noqa: S311 - reproducible data, not secrets
    seen = {DOCUMENTED_ENTRY_ID}
    day_step = min(1.0, 1100 / max(count, 1))
    posting_date = FIRST_POSTING_DATE
    for entry_number in range(1, count + 1):
        if company_index == 0 and entry_number == 1:
            yield dict(DOCUMENTED_ENTRY)
            continue
        if entry_number > 1 and rng.random() < day_step:
            posting_date += timedelta(days=1)
        entry_id = random_guid(rng)
        while entry_id in seen:
            entry_id = random_guid(rng)
        seen.add(entry_id)
        yield {"id": entry_id, **new_entry(rng, entry_number, posting_date)}
