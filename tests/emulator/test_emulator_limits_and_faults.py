"""Per-principal limits, scripted faults, counters, reset and inserted entries."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import requests

from airflow_provider_bc.testing.emulator import EmulatorError

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"


def _at_once(api: Any, count: int, **config: Any) -> list[int]:
    """Open ``count`` connections, apply ``config``, then send one GET on each at the same moment."""
    sessions = api.warm_sessions(count)  # TLS handshakes done before the race starts
    api.emulator.configure(**config)
    headers = {"Authorization": f"Bearer {api.token}"}

    def send(session: requests.Session) -> int:
        response = session.get(api.url("/companies"), headers=headers, verify=api.emulator.ca_bundle)
        return response.status_code

    return sorted(api.at_once(sessions, send))


@pytest.mark.parametrize("max_concurrent", [5, 2])
def test_concurrency_is_capped_per_principal(api: Any, max_concurrent: int) -> None:
    assert _at_once(api, 8, latency=0.3, max_concurrent=max_concurrent) == [200] * 8
    assert api.emulator.stats()["max_concurrency"] == max_concurrent


def test_a_full_queue_answers_429(api: Any) -> None:
    assert _at_once(api, 4, latency=0.5, max_concurrent=1, queue_size=1) == [200, 200, 429, 429]


def test_rate_limit(api: Any) -> None:
    api.emulator.configure(rate_limit=20, rate_window=10)
    assert [api.get("/companies").status_code for _ in range(20)] == [200] * 20
    response = api.get("/companies")
    message = api.assert_error(response, 429, "Application_TooManyRequests")
    assert 1 <= int(response.headers["Retry-After"]) <= 10
    assert "Maximum (20)" in message
    other = api.emulator.token(*api.emulator.register_client())
    assert api.get("/companies", token=other).status_code == 200  # the limit is per principal


@pytest.mark.parametrize(("status", "code"), [(500, "Internal_ServerError"), (504, "Internal_GatewayTimeout")])
def test_status_faults(api: Any, status: int, code: str) -> None:
    api.emulator.add_fault(status, route="itemLedgerEntry")
    entry = f"{api.entries_path()}({DOCUMENTED_ID})"
    api.assert_error(api.get(entry), status, code)
    assert api.get(entry).status_code == 200


def test_429_and_503_with_and_without_retry_after(api: Any) -> None:
    api.emulator.add_fault(429, count=2, route="companies", retry_after=7)
    api.emulator.add_fault(503, route="companies")
    first, second, third = (api.get("/companies") for _ in range(3))
    for response in (first, second):
        api.assert_error(response, 429, "Application_TooManyRequests")
        assert response.headers["Retry-After"] == "7"
    api.assert_error(third, 503, "Internal_ServiceUnavailable")
    assert "Retry-After" not in third.headers
    assert api.get("/companies").status_code == 200
    assert api.emulator.stats()["requests"]["companies"] == {"200": 1, "429": 2, "503": 1}


def test_drop(api: Any) -> None:
    api.emulator.add_fault("drop", route="companies")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/companies")
    assert api.get("/companies").status_code == 200
    assert api.emulator.stats()["requests"]["companies"] == {"0": 1, "200": 1}


def test_cut_mid_body(api: Any) -> None:
    api.emulator.add_fault("cut", route="itemLedgerEntries")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # headers came, half the body did not
        api.get(api.entries_path())
    assert api.get(api.entries_path()).status_code == 200
    assert api.emulator.stats()["requests"]["itemLedgerEntries"] == {"0": 1, "200": 1}


def test_invalid_json(api: Any) -> None:
    api.emulator.add_fault("invalid_json", route="itemLedgerEntries")
    response = api.get(api.entries_path())
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_html_page(api: Any) -> None:
    api.emulator.add_fault("html")
    response = api.get("/companies")
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


def test_fault_matching_by_method_and_path(api: Any) -> None:
    api.emulator.add_fault(500, method="GET", path_contains="entryNumber")
    assert api.get(api.entries_path(), {"$top": 1}).status_code == 200
    assert api.get(api.entries_path(), {"$top": 1, "$select": "entryNumber"}).status_code == 500
    assert api.get(api.entries_path(), {"$top": 1, "$select": "entryNumber"}).status_code == 200


def test_next_link_fault(api: Any) -> None:
    foreign = "https://127.0.0.1:9/elsewhere?$skiptoken=x"
    api.emulator.add_fault("next_link", route="itemLedgerEntries", next_link=foreign)
    body = api.get(api.entries_path(), {"$top": 2}).json()
    assert body["@odata.nextLink"] == foreign and len(body["value"]) == 2


def test_token_endpoint_fault(api: Any) -> None:
    api.emulator.add_fault(503, route="token", retry_after=3)
    response = requests.post(
        f"{api.emulator.authority}/{api.emulator.tenant_id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials"},
        verify=api.emulator.ca_bundle,
        timeout=30,
    )
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    assert response.json()["error"] == "temporarily_unavailable"
    assert api.emulator.token()
    assert api.emulator.stats()["tokens_issued"] == 1


def test_invalid_fault_is_refused(api: Any) -> None:
    with pytest.raises(EmulatorError, match="unknown fault kind"):
        api.emulator.add_fault(418)
    with pytest.raises(EmulatorError, match="unknown route"):
        api.emulator.add_fault(500, route="items")


def test_counters_and_recent_requests(api: Any) -> None:
    client_id, secret = api.emulator.register_client()
    token = api.emulator.token(client_id, secret)
    headers = {"User-Agent": "probe/1.0", "client-request-id": "req-1", "Data-Access-Intent": "ReadOnly"}
    api.get(f"{api.entries_path()}({DOCUMENTED_ID})", headers=headers, token=token)
    api.get(api.entries_path(), {"$top": 1}, {"Prefer": "odata.maxpagesize=1"}, token=token)
    api.get("/companies", token="")
    api.get("/nothing-here")
    stats = api.emulator.stats()
    assert stats["requests"] == {
        "token": {"200": 1},
        "itemLedgerEntry": {"200": 1},
        "itemLedgerEntries": {"200": 1},
        "companies": {"401": 1},
        "other": {"404": 1},
    }
    assert stats["tokens_issued"] == 1 and stats["total_requests"] == 5
    recent = stats["recent_requests"]
    assert [r["route"] for r in recent] == ["token", "itemLedgerEntry", "itemLedgerEntries", "companies", "other"]
    assert recent[1]["headers"] == headers and recent[1]["authorization"] is True
    assert recent[2]["headers"]["Prefer"] == "odata.maxpagesize=1"
    assert recent[3]["authorization"] is False
    assert all(earlier["time"] <= later["time"] for earlier, later in itertools.pairwise(recent))
    assert token not in json.dumps(stats) and secret not in json.dumps(stats)
    assert token in api.emulator.issued_tokens()


def test_access_log_holds_no_token_or_secret(api: Any) -> None:
    client_id, secret = api.emulator.register_client()
    token = api.emulator.token(client_id, secret)
    assert api.get("/companies", token=token).status_code == 200
    api.emulator.stats()  # a control call after the request: its log line is written by then
    log = (api.emulator.state_dir / "emulator.log").read_text()
    assert "GET /v2.0/" in log
    assert token not in log and secret not in log


def test_reset_restores_the_start(api: Any) -> None:
    before = api.emulator.configure()
    api.emulator.configure(latency=0.05, rate_limit=3, token_lifetime=5)
    api.emulator.add_fault(500, count=5)
    api.get("/companies")
    api.emulator.reset()
    stats = api.emulator.stats()
    assert stats["config"] == before and stats["faults_pending"] == []
    assert stats["requests"] == {} and stats["recent_requests"] == [] and stats["max_concurrency"] == 0
    assert [api.get("/companies").status_code for _ in range(4)] == [200] * 4  # old token, no limit of 3


def test_inserted_entry_is_readable_and_numbered_next(api: Any) -> None:
    company = api.emulator.companies[1]["id"]
    last = api.get(api.entries_path(company), {"$orderby": "entryNumber desc", "$top": 1}).json()["value"][0]
    inserted = api.emulator.insert_entry(company_id=company, description="Inserted by a test", quantity=5)
    assert inserted["entryNumber"] == last["entryNumber"] + 1
    assert (inserted["description"], inserted["quantity"]) == ("Inserted by a test", 5)
    assert inserted["@odata.etag"].startswith('W/"')
    read = api.get(f"{api.entries_path(company)}({inserted['id']})").json()
    read.pop("@odata.context")
    assert read == inserted
    found = api.get(api.entries_path(company), {"$filter": "description eq 'Inserted by a test'"}).json()
    assert [e["id"] for e in found["value"]] == [inserted["id"]]


def test_insert_rejects_unknown_fields(api: Any) -> None:
    with pytest.raises(EmulatorError, match="cannot be set"):
        api.emulator.insert_entry(company_id=api.emulator.companies[1]["id"], colour="red")
