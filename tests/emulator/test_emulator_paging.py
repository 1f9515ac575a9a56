"""Server-driven paging: page sizes, Prefer/Preference-Applied, keyset nextLinks, $top and $skip."""

from __future__ import annotations

import math
from typing import Any

import pytest

MAX_PAGE = 20_000


@pytest.fixture
def entry_count(pytestconfig: pytest.Config, all_entries: list[dict[str, Any]]) -> int:
    """Entries of the default company: the configured number, plus any other tests inserted."""
    count = len(all_entries)
    assert count >= int(pytestconfig.getini("bc_emulator_entries"))
    assert [e["entryNumber"] for e in all_entries] == list(range(1, count + 1))
    return count


def test_prefer_max_page_size(api: Any, entry_count: int) -> None:
    pages = api.pages(api.entries_path(), {"$select": "id"}, page_size=5_000)
    assert len(pages) == math.ceil(entry_count / 5_000)
    assert all(len(body["value"]) == 5_000 for _, body in pages[:-1])
    assert all(r.headers["Preference-Applied"] == "odata.maxpagesize=5000" for r, _ in pages)
    ids = [entry["id"] for _, body in pages for entry in body["value"]]
    assert len(ids) == len(set(ids)) == entry_count
    assert api.emulator.stats()["requests"]["itemLedgerEntries"] == {"200": len(pages)}


def test_default_page_size_is_twenty_thousand(api: Any, entry_count: int) -> None:
    pages = api.pages(api.entries_path())
    sizes = [len(body["value"]) for _, body in pages]
    assert sizes == [MAX_PAGE] * (entry_count // MAX_PAGE) + [entry_count % MAX_PAGE] * bool(entry_count % MAX_PAGE)
    assert all("Preference-Applied" not in r.headers for r, _ in pages)
    assert len({e["id"] for _, body in pages for e in body["value"]}) == entry_count


def test_next_link_is_absolute_and_keeps_the_query(api: Any) -> None:
    params = {"$select": "id,entryNumber", "$filter": "quantity gt 0", "$orderby": "postingDate desc"}
    first = api.get(api.entries_path(), params, {"Prefer": "odata.maxpagesize=10"}).json()
    link = first["@odata.nextLink"]
    assert link.startswith(api.emulator.api_url() + api.entries_path() + "?")
    assert "%24select=id%2CentryNumber" in link and "%24orderby=postingDate+desc" in link
    assert link.count("$skiptoken=") == 1
    second = api.get(link, headers={"Prefer": "odata.maxpagesize=10"}).json()
    assert set(second["value"][0]) == {"@odata.etag", "id", "entryNumber"}
    assert not {e["id"] for e in first["value"]} & {e["id"] for e in second["value"]}


def test_a_larger_preference_is_capped(api: Any) -> None:
    response = api.get(api.entries_path(), {"$select": "id"}, {"Prefer": "odata.maxpagesize=50000"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=20000"
    assert len(response.json()["value"]) == MAX_PAGE


@pytest.mark.parametrize(("top", "page_size", "expected"), [(7, None, 7), (30_000, None, MAX_PAGE), (30, 10, 10)])
def test_top_never_has_a_next_link(api: Any, top: int, page_size: int | None, expected: int) -> None:
    headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
    body = api.get(api.entries_path(), {"$select": "entryNumber", "$top": top}, headers).json()
    assert "@odata.nextLink" not in body
    assert [e["entryNumber"] for e in body["value"]] == list(range(1, expected + 1))


def test_skip_and_top(api: Any) -> None:
    body = api.get(api.entries_path(), {"$select": "entryNumber", "$skip": 10, "$top": 5}).json()
    assert [e["entryNumber"] for e in body["value"]] == [11, 12, 13, 14, 15]


def test_skip_applies_to_the_first_page_only(api: Any, entry_count: int) -> None:
    pages = api.pages(api.entries_path(), {"$select": "entryNumber", "$skip": 3}, page_size=10_000)
    numbers = [e["entryNumber"] for _, body in pages for e in body["value"]]
    assert numbers == list(range(4, entry_count + 1))


def test_filtered_descending_paging_equals_one_computation(api: Any, all_entries: list[dict[str, Any]]) -> None:
    params = {
        "$filter": "postingDate ge 2023-01-01 and postingDate lt 2024-01-01 and quantity gt 0",
        "$orderby": "postingDate desc",
        "$select": "id,postingDate,entryNumber",
    }
    pages = api.pages(api.entries_path(), params, page_size=997)
    assert len(pages) > 3
    paged = [e["id"] for _, body in pages for e in body["value"]]
    chosen = [e for e in all_entries if "2023-01-01" <= e["postingDate"] < "2024-01-01" and e["quantity"] > 0]
    chosen.sort(key=lambda e: e["entryNumber"])
    chosen.sort(key=lambda e: e["postingDate"], reverse=True)  # stable: entry number ascending within a date
    assert paged == [e["id"] for e in chosen]


def test_orderby_two_fields_with_paging(api: Any, all_entries: list[dict[str, Any]]) -> None:
    params = {"$orderby": "itemNumber asc,costAmountActual desc", "$select": "id", "$filter": "entryNumber le 3000"}
    paged = [e["id"] for _, body in api.pages(api.entries_path(), params, page_size=250) for e in body["value"]]
    chosen = sorted(
        (e for e in all_entries if e["entryNumber"] <= 3000),
        key=lambda e: (e["itemNumber"], -e["costAmountActual"], e["entryNumber"]),
    )
    assert paged == [e["id"] for e in chosen]


def test_keyset_paging_survives_an_insert(api: Any) -> None:
    """A nextLink continues after the last row seen, not at an offset: an entry added meanwhile shows up
    once, at the end, and nothing is read twice."""
    company = api.emulator.companies[1]["id"]
    first = api.get(api.entries_path(company), {"$select": "id"}, {"Prefer": "odata.maxpagesize=50"}).json()
    inserted = api.emulator.insert_entry(company_id=company, description="Added while paging")
    rest = api.pages(first["@odata.nextLink"], page_size=50)
    ids = [e["id"] for e in first["value"]] + [e["id"] for _, body in rest for e in body["value"]]
    assert len(ids) == len(set(ids))
    assert ids[-1] == inserted["id"]


def test_companies_collection(api: Any) -> None:
    body = api.get("/companies").json()
    assert body["@odata.context"].endswith("/$metadata#companies")
    assert [c["name"] for c in body["value"]] == ["CRONUS USA, Inc.", "CRONUS International Ltd.", "O'Brien & Søn A/S"]
    fields = {"id", "systemVersion", "timestamp", "name", "displayName", "businessProfileId", "systemCreatedAt"}
    fields |= {"systemCreatedBy", "systemModifiedAt", "systemModifiedBy", "@odata.etag"}
    assert all(set(c) == fields for c in body["value"])
    picked = api.get("/companies", {"$filter": "contains(name,'O''Brien')", "$select": "id,name"}).json()
    assert picked["value"] == [{"@odata.etag": body["value"][2]["@odata.etag"], **api.emulator.companies[2]}]
    single = api.get(f"/companies({api.emulator.default_company_id})").json()
    assert single["@odata.context"].endswith("/$metadata#companies/$entity")
    assert single["name"] == "CRONUS USA, Inc."
