"""``$batch``: BC's JSON batch format, the 100-operation limit, continue-on-error, operations counted
against the principal's rate window, faults for chosen operations, and what the counters record."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

ODATA_JSON = "application/json; odata.metadata=minimal; odata.streaming=true"
MISSING_ID = "00000000-0000-4000-8000-000000000001"


def post_batch(api: Any, operations: list[dict[str, Any]] | None = None, **options: Any) -> requests.Response:
    """POST ``{"requests": operations}`` (or ``data``/``json`` given in ``options``) to ``$batch``."""
    headers = {"Authorization": f"Bearer {api.token}", "Prefer": "odata.continue-on-error"}
    headers.update(options.pop("headers", {}))
    if "data" not in options and "json" not in options:
        options["json"] = {"requests": operations}
    return api.session.post(api.url("/$batch"), headers=headers, verify=api.emulator.ca_bundle, timeout=60, **options)


def gets(*urls: str) -> list[dict[str, Any]]:
    """GET operations with ids ``"0"``, ``"1"``, ..."""
    return [{"id": str(index), "method": "GET", "url": url} for index, url in enumerate(urls)]


def entry(api: Any, entity_id: str, query: str = "") -> str:
    """The relative URL of one entry of the default company."""
    return f"{api.entries_path().lstrip('/')}({entity_id}){query}"


def test_each_operation_is_answered_as_the_request_alone_would_be(api: Any, all_entries: list[dict[str, Any]]) -> None:
    first = all_entries[0]
    number = first["documentNumber"]
    urls = [
        entry(api, first["id"], "?$select=id,entryNumber"),
        entry(api, MISSING_ID),
        f"{api.entries_path().lstrip('/')}?$filter=documentNumber%20eq%20'{number}'&$select=id",
        f"{api.emulator.api_url()}/companies",  # an absolute URL
        f"/v2.0/{api.emulator.tenant_id}/{api.emulator.environment}/api/v2.0/companies/$count",  # an absolute path
        "nothing/here",
    ]
    response = post_batch(api, gets(*urls))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == ODATA_JSON
    assert response.headers["Preference-Applied"] == "odata.continue-on-error"
    answers = response.json()["responses"]
    assert [answer["id"] for answer in answers] == ["0", "1", "2", "3", "4", "5"]
    assert [answer["status"] for answer in answers] == [200, 404, 200, 200, 200, 404]
    alone = [
        api.get(url if url.startswith("https://") else "/" + url.split("/api/v2.0/")[-1].lstrip("/"))
        for url in urls[:4]
    ]
    assert [answers[i]["body"] for i in (0, 2, 3)] == [alone[i].json() for i in (0, 2, 3)]
    assert answers[1]["body"]["error"]["code"] == "Internal_RecordNotFound"
    assert answers[4]["body"] == str(len(api.emulator.companies))
    assert answers[5]["body"]["error"]["code"] == "BadRequest_NotFound"
    assert answers[0]["headers"] == {"content-type": ODATA_JSON, "odata-version": "4.0"}
    assert "request-id" not in answers[1]["headers"]

    (record,) = [r for r in api.emulator.recent_requests() if r["route"] == "$batch"]
    assert record["method"] == "POST"
    assert [(o["id"], o["route"], o["status"]) for o in record["operations"]] == [
        ("0", "itemLedgerEntry", 200),
        ("1", "itemLedgerEntry", 404),
        ("2", "itemLedgerEntries", 200),
        ("3", "companies", 200),
        ("4", "companies/$count", 200),
        ("5", "other", 404),
    ]
    assert record["operations"][0]["path"].endswith(f"itemLedgerEntries({first['id']})?$select=id,entryNumber")
    stats = api.emulator.stats()
    assert stats["requests"]["$batch"] == {"200": 1}
    assert stats["operations"]["itemLedgerEntry"] == {"200": 1, "404": 1}


def test_without_continue_on_error_nothing_after_a_failed_operation_runs(
    api: Any, all_entries: list[dict[str, Any]]
) -> None:
    urls = [entry(api, all_entries[0]["id"]), entry(api, MISSING_ID), entry(api, all_entries[1]["id"])]
    response = post_batch(api, gets(*urls), headers={"Prefer": "odata.maxpagesize=10"})
    assert response.status_code == 200
    assert "Preference-Applied" not in response.headers
    assert [answer["status"] for answer in response.json()["responses"]] == [200, 404]
    assert api.emulator.stats()["operations"] == {"itemLedgerEntry": {"200": 1, "404": 1}}


def test_more_than_100_operations_are_refused_whole(api: Any, all_entries: list[dict[str, Any]]) -> None:
    urls = [entry(api, e["id"]) for e in all_entries[:101]]
    message = api.assert_error(post_batch(api, gets(*urls)), 400, "Unknown")
    assert "A maximum number of '100' query operations" in message
    assert api.emulator.stats()["operations"] == {}

    response = post_batch(api, gets(*urls[:100]))
    assert [answer["status"] for answer in response.json()["responses"]] == [200] * 100


@pytest.mark.parametrize(
    "body",
    [
        {"data": b"{not json"},
        {"json": {"value": []}},
        {"json": {"requests": [{"id": "1", "method": "GET"}]}},
        {"json": {"requests": [{"method": "GET", "url": "companies"}]}},
        {"json": {"requests": gets("companies") + gets("companies")}},
        {"json": {"requests": [{"id": "1", "method": "GET", "url": "companies", "headers": {"a": 1}}]}},
    ],
)
def test_a_malformed_batch_is_a_400(api: Any, body: dict[str, Any]) -> None:
    api.assert_error(post_batch(api, **body), 400, "BadRequest")
    assert api.emulator.stats()["operations"] == {}


def test_a_batch_is_posted(api: Any) -> None:
    api.assert_error(api.get("/$batch"), 405, "BadRequest_MethodNotAllowed")


def test_each_operation_counts_against_the_rate_window(api: Any, all_entries: list[dict[str, Any]]) -> None:
    api.emulator.configure(rate_limit=5, rate_window=60)
    response = post_batch(api, gets(*(entry(api, e["id"]) for e in all_entries[:8])))
    answers = response.json()["responses"]
    assert [answer["status"] for answer in answers] == [200] * 5 + [429] * 3
    assert answers[5]["body"]["error"]["code"] == "Application_TooManyRequests"
    assert 1 <= int(answers[5]["headers"]["retry-after"]) <= 60

    full = post_batch(api, gets(entry(api, all_entries[0]["id"])))
    api.assert_error(full, 429, "Application_TooManyRequests")
    api.assert_error(api.get("/companies"), 429, "Application_TooManyRequests")


def test_a_batch_is_one_request_in_flight_with_its_latency_once(api: Any, all_entries: list[dict[str, Any]]) -> None:
    api.emulator.configure(latency=0.3)
    started = time.monotonic()
    response = post_batch(api, gets(*(entry(api, e["id"]) for e in all_entries[:50])))
    assert time.monotonic() - started < 0.3 * 5
    assert [answer["status"] for answer in response.json()["responses"]] == [200] * 50
    assert api.emulator.stats()["max_concurrency"] == 1


def test_faults_answer_chosen_operations_or_the_whole_batch(api: Any, all_entries: list[dict[str, Any]]) -> None:
    ids = [e["id"] for e in all_entries[:4]]
    api.emulator.add_fault(429, route="itemLedgerEntry", path_contains=ids[1], retry_after=7)
    api.emulator.add_fault(503, route="itemLedgerEntry", path_contains=ids[3])
    api.emulator.add_fault("drop", route="itemLedgerEntry")  # needs a request of its own: left pending
    api.emulator.add_fault("value", route="itemLedgerEntries", value=None)

    urls = [entry(api, entity_id) for entity_id in ids] + [api.entries_path().lstrip("/") + "?$top=1"]
    answers = post_batch(api, gets(*urls)).json()["responses"]

    assert [answer["status"] for answer in answers] == [200, 429, 200, 503, 200]
    assert answers[1]["headers"]["retry-after"] == "7"
    assert answers[1]["body"]["error"]["code"] == "Application_TooManyRequests"
    assert answers[4]["body"]["value"] is None
    assert [fault["kind"] for fault in api.emulator.stats()["faults_pending"]] == ["drop"]

    api.emulator.add_fault(503, route="$batch")
    api.assert_error(post_batch(api, gets(*urls)), 503, "Internal_ServiceUnavailable")
    (*_, last) = [r for r in api.emulator.recent_requests() if r["route"] == "$batch"]
    assert last["operations"] is None  # nothing of it ran
