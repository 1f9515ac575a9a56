"""BusinessCentralHook against the emulator: real MSAL, real HTTPS, the emulator's counters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest

from airflow_provider_bc.client.errors import BusinessCentralNotFoundError
from airflow_provider_bc.client.odata.filters import clause, text_clause
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from tests.support import DOCUMENTED_FIELDS

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"


def test_documented_entry_through_the_printed_connection(
    bc_connection: Callable[..., dict[str, Any]], documented_entry: dict[str, Any]
) -> None:
    bc_connection()
    entry = BusinessCentralHook().get_item_ledger_entry(DOCUMENTED_ID)
    # the fields the suite compares are exactly those of Microsoft's example (the shipped JSON copy) ...
    assert sorted(DOCUMENTED_FIELDS) == sorted(documented_entry)
    # ... and the hook hands over exactly those, value for value, plus only OData annotations
    assert {f: entry[f] for f in DOCUMENTED_FIELDS} == documented_entry
    assert {f for f in entry if not f.startswith("@odata.")} == {f for f in documented_entry if not f.startswith("@")}


def test_select_limits_what_business_central_returns(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], documented_entry: dict[str, Any]
) -> None:
    bc_connection()
    entry = BusinessCentralHook().get_entity("itemLedgerEntries", DOCUMENTED_ID, select=["entryNumber", "entryType"])
    (sent,) = [r for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntry"]
    assert "$select=entryNumber,entryType" in unquote(sent["path"])  # asked of the server ...
    assert {f for f in entry if not f.startswith("@odata.")} == {"entryNumber", "entryType"}  # ... which sent no more
    # values as Business Central sent them: a JSON number, and the enum still in its _x0020_ encoding
    assert entry["entryNumber"] == documented_entry["entryNumber"] == 1
    assert entry["entryType"] == documented_entry["entryType"] == "Positive_x0020_Adjmt_x002E_"


def test_two_hundred_calls_through_three_hooks_fetch_one_token(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection("bc_one_token", fresh_client=True)
    hooks = [BusinessCentralHook("bc_one_token") for _ in range(3)]
    for call in range(200):
        assert hooks[call % 3].get_item_ledger_entry(DOCUMENTED_ID, select="id")["id"] == DOCUMENTED_ID
    stats = bc_emulator.stats()
    assert stats["tokens_issued"] == 1
    assert stats["requests"]["itemLedgerEntry"]["200"] == 200


def test_every_header_a_support_case_needs(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection(read_only_intent=True)
    BusinessCentralHook().get_item_ledger_entry(DOCUMENTED_ID)
    BusinessCentralHook().get_item_ledger_entry(DOCUMENTED_ID)
    sent = [r for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntry"]
    assert len(sent) == 2
    for request in sent:
        assert request["headers"]["User-Agent"].startswith("airflow-provider-business-central/")
        assert request["headers"]["Data-Access-Intent"] == "ReadOnly"
    ids = [r["headers"]["client-request-id"] for r in sent]
    assert len(set(ids)) == 2 and all(len(i) == 36 for i in ids)


def test_lazy_paging_yields_every_entry_once(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection()
    hook = BusinessCentralHook()
    # the seeded 50,000 (other tests may have posted more since)
    pages = hook.iter_pages(
        "itemLedgerEntries", filter="entryNumber le 50000", select=["id", "entryNumber"], page_size=7_000
    )
    first = next(pages)
    assert bc_emulator.stats()["requests"]["itemLedgerEntries"]["200"] == 1  # nothing read ahead
    numbers = [e["entryNumber"] for e in first.entities] + [e["entryNumber"] for p in pages for e in p.entities]
    assert numbers == list(range(1, 50_001))
    assert bc_emulator.stats()["requests"]["itemLedgerEntries"]["200"] == 8


def test_resume_from_a_next_link(bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection()
    hook = BusinessCentralHook()
    filter = "postingDate le 2022-09-01"
    first = next(hook.iter_pages("itemLedgerEntries", filter=filter, select="id", page_size=1000))
    assert first.next_link
    rest = [e["id"] for p in hook.iter_pages("itemLedgerEntries", next_link=first.next_link) for e in p.entities]
    everything = [e["id"] for e in hook.iter_entities("itemLedgerEntries", filter=filter, select="id")]
    assert [e["id"] for e in first.entities] + rest == everything


@pytest.mark.parametrize(
    ("odata_filter", "matches"),
    [
        (clause("description", "eq", "O'Brien"), lambda text: text == "O'Brien"),
        (text_clause("contains", "description", "O'Brien"), lambda text: "O'Brien" in text),
        (text_clause("contains", "description", "Ünïcode"), lambda text: "Ünïcode" in text),
        (clause("description", "eq", "Café Møller – 50% off"), lambda text: text == "Café Møller – 50% off"),
    ],
    ids=["eq-quote", "contains-quote", "contains-unicode", "eq-unicode"],
)
def test_filter_values_with_quotes_and_non_ascii(
    bc_connection: Callable[..., dict[str, Any]],
    all_descriptions: dict[str, str],
    odata_filter: str,
    matches: Callable[[str], bool],
) -> None:
    bc_connection()
    found = {e["id"] for e in BusinessCentralHook().iter_entities("itemLedgerEntries", filter=odata_filter)}
    expected = {entry_id for entry_id, text in all_descriptions.items() if matches(text)}
    assert expected
    assert found == expected


@pytest.fixture(scope="module")
def all_descriptions(bc_emulator_session: Any) -> dict[str, str]:
    """id -> description of every entry of the default company, read without any filter."""
    import json

    import requests

    token = bc_emulator_session.token()
    url = f"{bc_emulator_session.api_url()}/companies({bc_emulator_session.default_company_id})/itemLedgerEntries"
    params: dict[str, str] | None = {"$select": "id,description"}
    found: dict[str, str] = {}
    with requests.Session() as session:
        while url:
            page = json.loads(
                session.get(
                    url,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    verify=bc_emulator_session.ca_bundle,
                    timeout=60,
                ).content
            )
            found.update((e["id"], e["description"]) for e in page["value"])
            url, params = page.get("@odata.nextLink"), None
    return found


def test_unknown_environment_is_named(bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection(environment="nosuchenv")
    with pytest.raises(BusinessCentralNotFoundError) as caught:
        BusinessCentralHook().get_item_ledger_entry(DOCUMENTED_ID)
    assert "nosuchenv" in str(caught.value)
    assert caught.value.status == 404


def test_unknown_entry_and_exists(bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection()
    hook = BusinessCentralHook()
    missing = "00000000-0000-0000-0000-000000000001"
    with pytest.raises(BusinessCentralNotFoundError) as caught:
        hook.get_item_ledger_entry(missing)
    assert missing in str(caught.value) and caught.value.request_id
    assert hook.entity_exists(Lookup(entity_id=DOCUMENTED_ID))
    assert not hook.entity_exists(Lookup(entity_id=missing))
    assert hook.entity_exists(Lookup(filter="documentNumber eq 'START-MANF'"))
    assert not hook.entity_exists(Lookup(filter="documentNumber eq 'NO-SUCH-DOC'"))


def test_companies_and_company_argument(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection()
    hook = BusinessCentralHook()
    companies = hook.list_companies()
    assert {c["name"] for c in companies} >= {"CRONUS USA, Inc.", "O'Brien & Søn A/S"}
    other = next(c["id"] for c in companies if c["id"] != bc_emulator.default_company_id)
    top = hook.find_entities("itemLedgerEntries", company_id=other, top=5, orderby="entryNumber")
    assert [e["entryNumber"] for e in top] == [1, 2, 3, 4, 5]
    assert top[0]["id"] != DOCUMENTED_ID


def test_new_clients_share_one_token_and_the_company_is_checked_once(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    from airflow_provider_bc.client.errors import BusinessCentralQueryError

    bc_connection("bc_new_clients", fresh_client=True)
    hook = BusinessCentralHook("bc_new_clients")
    clients = [hook.new_client() for _ in range(3)]
    assert len({id(c) for c in clients}) == 3 and hook.client is hook.client  # new ones; the hook's own kept
    for client in clients:
        assert client.get_item_ledger_entry(DOCUMENTED_ID, select="id")["id"] == DOCUMENTED_ID
        client.close()
    assert bc_emulator.stats()["tokens_issued"] == 1
    assert hook.company_id() == bc_emulator.default_company_id  # the connection's extra
    other = "3e5a0f1c-52ff-eb11-bb76-000d3a220647"
    assert hook.company_id(other) == other
    with pytest.raises(BusinessCentralQueryError, match="company_id: must be a GUID"):
        hook.company_id("CRONUS USA, Inc.")
