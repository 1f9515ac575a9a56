"""Batch reads without a network: what a ``$batch`` holds, and how its inner answers are read (the
same decisions as for a request of its own, proven with hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_bc.client.batch.answers import inner_answers
from airflow_provider_bc.client.batch.reads import EntitiesById, MatchesByValue
from airflow_provider_bc.client.errors import (
    BusinessCentralBadAnswerError,
    BusinessCentralError,
    BusinessCentralQueryError,
    BusinessCentralThrottledError,
)
from airflow_provider_bc.client.http.exchange import Answer, Exchange
from airflow_provider_bc.client.http.retry import Attempts, Retrying
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.queries import lookup_query
from airflow_provider_bc.client.odata.urls import ApiUrls
from tests.support import offline_settings

COMPANY = "3e5a0f1c-52ff-eb11-bb76-000d3a220646"
IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 8)]
SETTINGS = offline_settings(company_id=COMPANY, backoff_factor=0.01, retry_after_max=60)
URLS = ApiUrls(SETTINGS)
ROOT = URLS.service_root


def by_id(ids: list[str], client_settings: Any = SETTINGS, **options: Any) -> EntitiesById:
    return EntitiesById(client_settings, URLS, "itemLedgerEntries", ids, **options)


def sent(batch: Any) -> list[dict[str, Any]]:
    """The operations of the batch's next request."""
    query = batch.next_request()
    assert query is not None
    return list(json.loads(query.body)["requests"])


def answer(op_id: str, status: int, body: Any = None, **headers: str) -> dict[str, Any]:
    """An inner answer; ``headers`` by Python name (``retry_after``: ``retry-after``)."""
    return {
        "id": op_id,
        "status": status,
        "headers": {k.replace("_", "-"): v for k, v in headers.items()},
        "body": body,
    }


def missing() -> dict[str, Any]:
    return {"error": {"code": "Internal_RecordNotFound", "message": "The Item Ledger Entry does not exist."}}


def test_a_batch_holds_each_distinct_id_once_as_a_get_relative_to_the_service_root() -> None:
    batch = by_id([IDS[0], IDS[1].upper(), IDS[0], IDS[1]], select=["id", "entryNumber"])
    query = batch.next_request()
    assert query is not None
    assert (query.url, query.operations, query.context) == (
        f"{ROOT}/$batch",
        2,
        "POST $batch of 2 reads of itemLedgerEntries",
    )
    assert query.headers == {"Content-Type": "application/json", "Prefer": "odata.continue-on-error"}
    assert Exchange(SETTINGS, query).method == "POST"
    requests = json.loads(query.body or b"")["requests"]
    assert [(r["id"], r["method"], r["url"]) for r in requests] == [
        (str(n), "GET", f"companies({COMPANY})/itemLedgerEntries({IDS[n]})?$select=id,entryNumber") for n in (0, 1)
    ]
    assert all(set(r["headers"]) == {"client-request-id"} for r in requests)


def test_ids_are_checked_before_anything_is_planned() -> None:
    with pytest.raises(BusinessCentralQueryError) as refused:
        by_id([IDS[0], "44a76d24-52ff-eb11-bb76-000d3a22064z"])
    assert refused.value.field == "ids[1]"
    assert "44a76d24-52ff-eb11-bb76-000d3a22064z" in str(refused.value)
    with pytest.raises(BusinessCentralQueryError, match="ids: must be a list"):
        by_id(IDS[0])  # type: ignore[arg-type]
    for size in (0, 101, True, 2.5):
        with pytest.raises(BusinessCentralQueryError, match="batch_size"):
            by_id(IDS, batch_size=size)
    with pytest.raises(BusinessCentralQueryError, match="value"):
        MatchesByValue(SETTINGS, URLS, "itemLedgerEntries", "documentNumber", [["a list"]])
    with pytest.raises(BusinessCentralQueryError, match="is not an option of a batch read") as refused:
        by_id(IDS, selct="id")
    assert refused.value.field == "selct"
    with pytest.raises(BusinessCentralQueryError, match="compnay_id: is not an option"):
        MatchesByValue(SETTINGS, URLS, "x", "f", ["v"], compnay_id="c")  # type: ignore[call-arg]


def test_operations_are_sent_batch_size_at_a_time_and_those_to_retry_in_a_round_of_their_own() -> None:
    batch = by_id(IDS[:5], batch_size=2)
    entity = [{"id": entity_id} for entity_id in IDS]
    assert [r["id"] for r in sent(batch)] == ["0", "1"]
    assert batch.read({"responses": [answer("0", 200, entity[0]), answer("1", 429, retry_after="3")]}) is None
    assert [r["id"] for r in sent(batch)] == ["2", "3"]
    assert batch.read({"responses": [answer("2", 404, missing()), answer("3", 503)]}) is None
    assert [r["id"] for r in sent(batch)] == ["4"]
    retrying = batch.read({"responses": []})  # "4" left unanswered: asked again too
    assert isinstance(retrying, Retrying)
    assert retrying.wait == 3.0  # the longest wait of the round: 1's Retry-After
    assert [r["id"] for r in sent(batch)] == ["1", "3"]
    assert batch.read({"responses": [answer("1", 200, entity[1]), answer("3", 200, entity[3])]}) is None
    assert [r["id"] for r in sent(batch)] == ["4"]
    assert batch.read({"responses": [answer("4", 200, entity[4])]}) is None
    assert batch.next_request() is None
    assert batch.result() == {IDS[0]: entity[0], IDS[1]: entity[1], IDS[2]: None, IDS[3]: entity[3], IDS[4]: entity[4]}


def test_an_operation_gives_up_after_its_own_budget_naming_its_id() -> None:
    batch = by_id(IDS[:2], offline_settings(company_id=COMPANY, max_retries=1, backoff_factor=0.01))
    sent(batch)
    batch.read({"responses": [answer("0", 200, {"id": IDS[0]}), answer("1", 503)]})
    sent(batch)
    with pytest.raises(BusinessCentralThrottledError) as raised:
        batch.read({"responses": [answer("1", 503)]})
    assert f"itemLedgerEntries({IDS[1]})" in str(raised.value)
    assert raised.value.attempts == 2


def test_a_filter_s_matches_follow_its_next_links_in_later_batches() -> None:
    batch = MatchesByValue(SETTINGS, URLS, "itemLedgerEntries", "documentNumber", ["O'NEIL", 7], select="id")
    first = sent(batch)
    assert [r["url"] for r in first] == [
        f"companies({COMPANY})/itemLedgerEntries?$filter=documentNumber%20eq%20'O''NEIL'&$select=id",
        f"companies({COMPANY})/itemLedgerEntries?$filter=documentNumber%20eq%207&$select=id",
    ]
    link = f"{ROOT}/companies({COMPANY})/itemLedgerEntries?$skiptoken=abc"
    page = {"value": [{"id": "a"}], "@odata.nextLink": link}
    assert batch.read({"responses": [answer("0", 200, page), answer("1", 200, {"value": []})]}) is None
    assert [r["url"] for r in sent(batch)] == [f"companies({COMPANY})/itemLedgerEntries?$skiptoken=abc"]
    assert batch.read({"responses": [answer("0", 200, {"value": [{"id": "b"}]})]}) is None
    assert batch.next_request() is None
    assert batch.result() == {"O'NEIL": [{"id": "a"}, {"id": "b"}], 7: []}


def test_a_url_off_the_service_root_is_no_batch_operation() -> None:
    with pytest.raises(BusinessCentralBadAnswerError):
        URLS.in_batch(f"{SETTINGS.api_host}/v2.0/other/production/api/v2.0/companies", None)
    assert URLS.in_batch(f"{ROOT}/companies", {"$filter": "name eq 'A&B'"}) == "companies?$filter=name%20eq%20'A%26B'"


STATUSES = st.one_of(st.sampled_from([200, 400, 401, 403, 404, 408, 429, 500, 502, 503, 504]), st.integers(100, 599))
CODES = st.sampled_from(["Internal_RecordNotFound", "Internal_CompanyNotFound", "Application_TooManyRequests", None])


@settings(deadline=None)  # the machine is shared: a slow example is no failure
@given(status=STATUSES, code=CODES, retry_after=st.sampled_from([None, "2", "600", "soon"]))
def test_an_inner_answer_is_decided_as_the_same_answer_to_a_request_of_its_own(
    status: int, code: str | None, retry_after: str | None
) -> None:
    body: dict[str, Any] = {"id": IDS[0]} if 200 <= status < 300 else {"error": {"code": code, "message": "m"}}
    headers = {"Content-Type": "application/json"} | ({"Retry-After": retry_after} if retry_after else {})

    def alone() -> Any:
        query = lookup_query(URLS, Lookup.build("itemLedgerEntries", entity_id=IDS[0]))
        try:
            payload = Exchange(SETTINGS, query).read(Answer(status, headers, json.dumps(body).encode()))
        except BusinessCentralError as error:
            return Attempts(SETTINGS, "GET").after(error)
        return payload.get("id")

    def in_batch() -> Any:
        batch = by_id([IDS[0]])
        sent(batch)
        inner = answer("0", status, body, **{name.lower().replace("-", "_"): value for name, value in headers.items()})
        decision = batch.read({"responses": [inner]})
        return decision if decision is not None else (batch.result()[IDS[0]] or {}).get("id")

    outcomes = []
    for read in (alone, in_batch):
        try:
            outcome = read()
        except BusinessCentralError as error:
            outcomes.append((type(error), error.status, error.code))
        else:
            retrying = isinstance(outcome, Retrying)
            wait = outcome.wait if retrying and retry_after == "2" else None  # else a backoff, jittered
            outcomes.append((Retrying, outcome.new_token, wait) if retrying else outcome)
    assert outcomes[0] == outcomes[1]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(deadline=None)
@given(payload=st.dictionaries(st.sampled_from(["responses", "value", "x"]), JSON | st.lists(JSON)))
def test_any_batch_answer_reads_as_answers_for_well_formed_entries_only(payload: dict[str, Any]) -> None:
    answers = inner_answers(payload)
    for op_id, read in answers.items():
        assert isinstance(op_id, str)
        assert isinstance(read.status, int)
        assert isinstance(read.body, bytes)


@settings(deadline=None)
@given(
    entries=st.lists(
        st.tuples(
            st.text(min_size=1, max_size=5),
            st.integers(100, 599),
            st.dictionaries(st.text(max_size=5), JSON, max_size=3),
            st.booleans(),
        ),
        unique_by=lambda entry: entry[0],
        max_size=5,
    )
)
def test_well_formed_inner_answers_keep_status_body_and_headers(
    entries: list[tuple[str, int, dict[str, Any], bool]],
) -> None:
    responses = [
        {"id": op_id, "status": status, "headers": {"retry-after": "1"} if throttled else {}, "body": body}
        for op_id, status, body, throttled in entries
    ]
    answers = inner_answers({"responses": responses})
    assert set(answers) == {op_id for op_id, *_ in entries}
    for op_id, status, body, throttled in entries:
        read = answers[op_id]
        assert (read.status, json.loads(read.body)) == (status, body)
        assert read.headers["Content-Type"] == "application/json"
        assert read.headers.get("Retry-After") == ("1" if throttled else None)
