"""The fault kinds beyond plain errors: 403, Retry-After dates, stalls, slow and empty bodies,
foreign Content-Types, redirects and replaced ``value`` arrays; and how faults are validated."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_bc.testing.emulator import EmulatorError

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"
HTTP_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
SHORT, LONG = (10, 0.3), (10, 30)  # (connect, read) timeouts shorter and longer than the delays below


def _strip_volatile(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "@odata.context"}


def test_403_on_the_api(api: Any) -> None:
    api.emulator.add_fault(403, route="itemLedgerEntries")
    message = api.assert_error(api.get(api.entries_path()), 403, "Authorization_InsufficientPermissions")
    assert message.startswith("You do not have the following permissions on TableData Item Ledger Entry: Read.")
    assert api.get(api.entries_path(), {"$top": 1}).status_code == 200
    assert api.emulator.stats()["requests"]["itemLedgerEntries"] == {"200": 1, "403": 1}


def _token_response(emulator: Any, timeout: Any = 30) -> requests.Response:
    return requests.post(
        f"{emulator.authority}/{emulator.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "scope": "https://api.businesscentral.dynamics.com/.default",
        },
        verify=emulator.ca_bundle,
        timeout=timeout,
    )


def test_403_on_the_token_endpoint(bc_emulator: Any) -> None:
    bc_emulator.add_fault(403, route="token")
    response = _token_response(bc_emulator)
    assert response.status_code == 403
    body = response.json()
    assert (body["error"], body["error_codes"]) == ("access_denied", [501051])
    assert body["error_description"].startswith("AADSTS501051: ")
    assert bc_emulator.token()


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_as_an_http_date(api: Any, status: int) -> None:
    api.emulator.add_fault(status, route="companies", retry_after=HTTP_DATE)
    response = api.get("/companies")
    assert response.status_code == status
    assert response.headers["Retry-After"] == HTTP_DATE


def test_retry_after_in_seconds_still_works(api: Any) -> None:
    api.emulator.add_fault(429, route="companies", retry_after=0)
    assert api.get("/companies").headers["Retry-After"] == "0"


def test_stall_outlasts_a_short_read_timeout(api: Any) -> None:
    api.emulator.add_fault("stall", route="companies", delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get("/companies", timeout=SHORT)
    # The second stall ends after the first one's delay: its answer also shows the server survived
    # the client that gave up.
    api.emulator.add_fault("stall", route="companies", delay=1.0)
    stalled = api.get("/companies", timeout=LONG)
    assert stalled.status_code == 200
    assert _strip_volatile(stalled.json()) == _strip_volatile(api.get("/companies").json())
    assert api.emulator.stats()["requests"]["companies"] == {"200": 3}  # counted when ready, given up or not
    assert "Traceback" not in (api.emulator.state_dir / "emulator.log").read_text()


def test_stall_on_the_token_endpoint(bc_emulator: Any) -> None:
    bc_emulator.add_fault("stall", route="token", delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _token_response(bc_emulator, timeout=SHORT)
    bc_emulator.add_fault("stall", route="token", delay=1.0)
    assert _token_response(bc_emulator, timeout=LONG).json()["token_type"] == "Bearer"
    assert bc_emulator.stats()["tokens_issued"] == 2


def test_slow_body_sends_headers_then_outlasts_a_short_read_timeout(api: Any) -> None:
    path, params = api.entries_path(), {"$top": 50}
    normal = api.get(path, params)
    api.emulator.add_fault("slow_body", route="itemLedgerEntries", delay=1.0)
    response = api.get(path, params, timeout=SHORT, stream=True)
    assert response.status_code == 200  # headers came at once
    assert response.headers["Content-Length"] == normal.headers["Content-Length"]
    with pytest.raises(requests.exceptions.ConnectionError, match="Read timed out"):
        response.content  # noqa: B018 - reading the body is the point
    api.emulator.add_fault("slow_body", route="itemLedgerEntries", delay=1.0)
    slow = api.get(path, params, timeout=LONG)
    assert slow.status_code == 200
    assert slow.json()["value"] == normal.json()["value"]
    assert api.emulator.stats()["requests"]["itemLedgerEntries"] == {"200": 3}
    assert "Traceback" not in (api.emulator.state_dir / "emulator.log").read_text()


def test_empty_body(api: Any) -> None:
    api.emulator.add_fault("empty", route="itemLedgerEntries")
    response = api.get(api.entries_path())
    assert response.status_code == 200
    assert response.content == b"" and response.headers["Content-Length"] == "0"
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    assert api.emulator.stats()["requests"]["itemLedgerEntries"] == {"200": 1}


@pytest.mark.parametrize(("kind", "status"), [("html", 502), ("html_200", 200)])
def test_html_pages(api: Any, kind: str, status: int) -> None:
    api.emulator.add_fault(kind, route="itemLedgerEntries")
    response = api.get(api.entries_path())
    assert response.status_code == status
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.text.startswith("<!DOCTYPE html>")
    assert api.emulator.stats()["requests"]["itemLedgerEntries"] == {str(status): 1}


@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_content_type_replaced(api: Any, content_type: str | None) -> None:
    entry = f"{api.entries_path()}({DOCUMENTED_ID})"
    api.emulator.add_fault("content_type", route="itemLedgerEntry", content_type=content_type)
    response = api.get(entry)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == (content_type or "text/html; charset=utf-8")
    assert response.json() == api.get(entry).json()  # the real body
    assert api.emulator.stats()["requests"]["itemLedgerEntry"] == {"200": 2}


def test_content_type_of_an_error_answer(api: Any) -> None:
    api.emulator.add_fault("content_type", route="companies")
    response = api.get("/companies", token="")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.json()["error"]["code"] == "Authentication_InvalidCredentials"


def test_redirect(api: Any) -> None:
    elsewhere = "https://login.example.com/signin?from=bc"
    api.emulator.add_fault("redirect", route="companies", location=elsewhere)
    response = api.get("/companies", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == elsewhere
    assert response.content == b""
    assert api.emulator.stats()["requests"]["companies"] == {"302": 1}


@pytest.mark.parametrize("value", [None, "not a list", [1, 2, 3], {"id": "x"}, []])
def test_value_replaced(api: Any, value: Any) -> None:
    headers = {"Prefer": "odata.maxpagesize=2"}
    normal = api.get(api.entries_path(), headers=headers).json()
    api.emulator.add_fault("value", route="itemLedgerEntries", value=value)
    body = api.get(api.entries_path(), headers=headers).json()
    assert list(body) == list(normal)  # "value" where it was, the nextLink kept
    assert body["value"] == value
    assert body["@odata.nextLink"] == normal["@odata.nextLink"]
    assert api.emulator.stats()["requests"]["itemLedgerEntries"] == {"200": 2}


def test_value_leaves_entities_and_errors_alone(api: Any) -> None:
    entry = f"{api.entries_path()}({DOCUMENTED_ID})"
    api.emulator.add_fault("value", value=None, count=2)
    assert "value" not in api.get(entry).json()
    api.assert_error(api.get(api.entries_path(), token=""), 401, "Authentication_InvalidCredentials")


def test_pending_faults_show_a_null_value(bc_emulator: Any) -> None:
    bc_emulator.add_fault("value", value=None)
    bc_emulator.add_fault("stall", delay=2)
    value, stall = bc_emulator.stats()["faults_pending"]
    assert "value" in value and value["value"] is None
    assert "value" not in stall and stall["delay"] == 2.0


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        ("stall", {}, "delay .* goes with, and only with"),
        ("slow_body", {}, "delay .* goes with, and only with"),
        (500, {"delay": 1}, "delay .* goes with, and only with"),
        ("stall", {"delay": -1}, "delay must not be negative"),
        ("stall", {"delay": "soon"}, "delay must be a number"),
        ("stall", {"delay": True}, "delay must be a number"),
        ("html", {"content_type": "text/plain"}, "content_type goes only with"),
        ("content_type", {"content_type": "text/html\r\nX-Injected: 1"}, "content_type must be a non-empty string"),
        ("redirect", {}, "location .* goes with, and only with"),
        (503, {"location": "https://example.com/"}, "location .* goes with, and only with"),
        ("value", {}, "value .* goes with, and only with"),
        (500, {"value": None}, "value .* goes with, and only with"),
        ("html", {"retry_after": 3}, "retry_after goes only with a status fault"),
        (429, {"retry_after": -1}, "retry_after must be a non-negative integer"),
        (429, {"retry_after": ""}, "retry_after must be a non-empty string"),
        (429, {"retry_after": 1.5}, "retry_after must be a non-negative integer"),
    ],
)
def test_invalid_fields_are_refused(bc_emulator: Any, kind: Any, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(EmulatorError, match=f"faults: 400 .*{message}"):
        bc_emulator.add_fault(kind, **fields)
    assert bc_emulator.stats()["faults_pending"] == []


def test_unknown_field_through_the_control_api(bc_emulator: Any) -> None:
    response = requests.post(
        f"{bc_emulator.base_url}/_emulator/faults",
        json={"kind": "stall", "delay": 1, "colour": "red"},
        verify=bc_emulator.ca_bundle,
        timeout=30,
    )
    assert response.status_code == 400
    assert "unknown fault field" in response.json()["error"]
