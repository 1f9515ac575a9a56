"""``airflow_provider_bc.client.batch.operations``: one GET of a ``$batch`` read, without a network. Its entry
in a ``$batch``, and its inner answers (built as :class:`Answer`) read as the GET's own answers would be: the
entity, no entity (a 404 saying so), a decision to ask again, or the typed error it gives up with."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from airflow_provider_bc.client.batch.answers import Asked
from airflow_provider_bc.client.batch.operations import Operation
from airflow_provider_bc.client.errors import (
    BusinessCentralBadAnswerError,
    BusinessCentralNotFoundError,
    BusinessCentralPermissionError,
    BusinessCentralServerError,
    BusinessCentralThrottledError,
)
from airflow_provider_bc.client.http.exchange import Answer
from airflow_provider_bc.client.http.retry import Retrying
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.paging import PageCursor
from airflow_provider_bc.client.odata.queries import collection_query, count_query
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.values import CompanyId, EntitySet
from tests.support import offline_settings

COMPANY = "3e5a0f1c-52ff-eb11-bb76-000d3a220646"
ID = "00000000-0000-4000-8000-000000000001"
OTHER = "00000000-0000-4000-8000-000000000002"
SETTINGS = offline_settings(company_id=COMPANY, backoff_factor=0.01, backoff_max=0.05, retry_after_max=60)
URLS = ApiUrls(SETTINGS)
ROOT = URLS.service_root
CONTEXT = f"GET itemLedgerEntries({ID}) of company {COMPANY} in environment 'production'"


def inner(status: int, body: Any = None, **headers: str) -> Answer:
    """An inner answer as :mod:`.answers` hands it over (JSON body, headers of any case); ``headers`` by Python
    name (``retry_after``: ``retry-after``)."""
    named = CaseInsensitiveDict({name.replace("_", "-"): value for name, value in headers.items()})
    if body is not None:
        named.setdefault("Content-Type", "application/json")
    return Answer(status, named, b"" if body is None else json.dumps(body).encode())


def error(code: str, message: str = "...") -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def operation(entity_id: str = ID, settings: Any = SETTINGS, **lookup: Any) -> Operation:
    return Operation.by_id(settings, "7", URLS, Lookup("itemLedgerEntries", entity_id, **lookup))


def test_by_id_is_one_get_of_the_entity_relative_to_the_service_root() -> None:
    op = operation(select=("id", "entryNumber"))
    assert op.exchange is not None
    entry = op.request(URLS)
    assert entry == {
        "id": "7",
        "method": "GET",
        "url": f"companies({COMPANY})/itemLedgerEntries({ID})?$select=id,entryNumber",
        "headers": {"client-request-id": op.exchange.client_request_id},
    }
    assert (op.id, op.found, op.exchange.url) == ("7", [], f"{ROOT}/companies({COMPANY})/itemLedgerEntries({ID})")


def test_by_id_without_a_select_asks_for_every_field() -> None:
    assert operation().request(URLS)["url"] == f"companies({COMPANY})/itemLedgerEntries({ID})"


def test_by_id_selects_the_id_to_check_the_answer_but_does_not_hand_it_over() -> None:
    op = operation(select=("entryNumber",))
    assert op.request(URLS)["url"] == f"companies({COMPANY})/itemLedgerEntries({ID})?$select=entryNumber,id"
    assert op.read(inner(200, {"id": ID, "entryNumber": 42})) is None
    assert op.found == [{"entryNumber": 42}]


def test_each_operation_has_a_client_request_id_of_its_own() -> None:
    first, second = operation(), operation()
    ids = {first.request(URLS)["headers"]["client-request-id"], second.request(URLS)["headers"]["client-request-id"]}
    assert len(ids) == 2


def test_the_entity_found_is_kept_and_the_operation_is_done() -> None:
    op = operation()
    entity = {"@odata.etag": 'W/"JzE5OzEn"', "id": ID.upper(), "entryNumber": 1, "quantity": -3}
    assert op.read(inner(200, entity)) is None
    assert op.found == [entity]  # the id read regardless of case, handed over as answered
    assert op.exchange is None


def test_a_404_saying_the_record_does_not_exist_is_no_entity() -> None:
    op = operation()
    answer = inner(404, error("Internal_RecordNotFound", "The Item Ledger Entry does not exist."))
    assert op.read(answer) is None
    assert (op.found, op.exchange) == ([], None)


def test_any_other_404_is_the_typed_error_naming_the_id() -> None:
    op = operation()
    with pytest.raises(BusinessCentralNotFoundError) as caught:
        op.read(inner(404, error("BadRequest_NotFound", "The entity set does not exist.")))
    assert (caught.value.status, caught.value.code, caught.value.attempts) == (404, "BadRequest_NotFound", 1)
    assert ID in str(caught.value)


@pytest.mark.parametrize(
    ("status", "raised"),
    [(403, BusinessCentralPermissionError), (500, BusinessCentralServerError), (408, BusinessCentralServerError)],
)
def test_what_is_not_retried_is_raised_at_once(status: int, raised: type[Exception]) -> None:
    op = operation()
    with pytest.raises(raised) as caught:
        op.read(inner(status, error("Internal_Error")))
    assert type(caught.value) is raised
    assert CONTEXT in str(caught.value)


def test_a_throttled_operation_waits_as_told() -> None:
    op = operation()
    decision = op.read(inner(429, error("TooManyRequests"), retry_after="3"))
    assert decision == Retrying(3.0)
    assert op.found == []
    assert op.exchange is not None  # asked again


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateways_failure_is_asked_again_after_a_backoff(status: int) -> None:
    op = operation()
    decision = op.read(inner(status))
    assert isinstance(decision, Retrying)
    assert 0 < decision.wait <= SETTINGS.backoff_max
    assert not decision.new_token
    assert op.exchange is not None


def test_the_retries_of_an_operation_come_from_one_budget() -> None:
    op = operation(settings=offline_settings(company_id=COMPANY, max_retries=2, backoff_factor=0.01))
    assert isinstance(op.read(inner(503)), Retrying)
    assert isinstance(op.read(inner(503)), Retrying)
    with pytest.raises(BusinessCentralThrottledError) as caught:
        op.read(inner(503))
    assert caught.value.attempts == 3
    assert "gave up after 3 attempts (max_retries=2)" in str(caught.value)


def test_an_answer_for_another_id_is_a_bad_answer_asked_again() -> None:
    op = operation()
    decision = op.read(inner(200, {"id": OTHER, "entryNumber": 2}))
    assert isinstance(decision, Retrying)
    assert op.found == []  # nothing kept from it
    assert op.exchange is not None
    assert op.read(inner(200, {"id": ID, "entryNumber": 1})) is None  # the right answer next time
    assert op.found == [{"id": ID, "entryNumber": 1}]


def test_an_answer_for_another_id_names_both_when_the_budget_is_spent() -> None:
    op = operation(settings=offline_settings(company_id=COMPANY, max_retries=0))
    with pytest.raises(BusinessCentralBadAnswerError) as caught:
        op.read(inner(200, {"id": OTHER}))
    assert caught.value.message.startswith(
        f"{CONTEXT}: the $batch answer to operation 7 holds id {OTHER!r} where {ID!r} was asked"
    )
    assert caught.value.url == f"{ROOT}/companies({COMPANY})/itemLedgerEntries({ID})"


@pytest.mark.parametrize(
    "answer",
    [
        inner(200, {"entryNumber": 1}),  # no id to check it by
        inner(200, {"id": None}),
        Answer(200, {"Content-Type": "text/html"}, b"<html>proxy</html>"),
        Answer(200, {"Content-Type": "application/json"}, b'{"id": "cut'),
        "the $batch answer to it is not what BC sends",
    ],
)
def test_what_bc_does_not_send_is_asked_again(answer: Answer | str) -> None:
    op = operation()
    assert isinstance(op.read(answer), Retrying)
    assert (op.found, op.exchange is not None) == ([], True)


def test_what_is_wrong_with_the_batch_answer_is_the_message_when_given_up() -> None:
    op = operation(settings=offline_settings(company_id=COMPANY, max_retries=0))
    with pytest.raises(BusinessCentralBadAnswerError) as caught:
        op.read("the $batch answer does not answer the operations sent")
    assert caught.value.message.startswith(f"{CONTEXT}: the $batch answer does not answer the operations sent")


def test_no_retry_past_the_deadline_given_by_id() -> None:
    op = Operation.by_id(SETTINGS, "0", URLS, Lookup("itemLedgerEntries", ID), deadline=time.monotonic() + 1)
    with pytest.raises(BusinessCentralThrottledError) as caught:
        op.read(inner(429, retry_after="5"))
    assert "no time left before the deadline for a retry in 5.0 s" in str(caught.value)


def test_end_by_sets_a_deadline() -> None:
    op = operation()
    op.end_by(time.monotonic() + 1)
    with pytest.raises(BusinessCentralThrottledError, match="no time left before the deadline"):
        op.read(inner(429, retry_after="5"))


def test_end_by_never_moves_a_deadline_later() -> None:
    op = Operation.by_id(SETTINGS, "0", URLS, Lookup("itemLedgerEntries", ID), deadline=time.monotonic() + 1)
    op.end_by(time.monotonic() + 3600)
    with pytest.raises(BusinessCentralThrottledError, match="no time left before the deadline"):
        op.read(inner(429, retry_after="5"))


def test_end_by_moves_a_deadline_earlier() -> None:
    op = Operation.by_id(SETTINGS, "0", URLS, Lookup("itemLedgerEntries", ID), deadline=time.monotonic() + 3600)
    op.end_by(time.monotonic() + 1)
    with pytest.raises(BusinessCentralThrottledError, match="no time left before the deadline"):
        op.read(inner(429, retry_after="5"))


def test_a_deadline_far_enough_leaves_the_retry() -> None:
    op = operation()
    op.end_by(time.monotonic() + 3600)
    assert op.read(inner(429, retry_after="5")) == Retrying(5.0)


def matches(asked: Asked | None = None) -> Operation:
    query = collection_query(URLS, "itemLedgerEntries", None, filter="documentNumber eq 'S-1'")
    return Operation(SETTINGS, "3", query, PageCursor(URLS, query), asked=asked)


def test_a_filters_pages_are_followed_and_their_matches_added_up() -> None:
    op = matches(Asked("documentNumber", "S-1"))
    assert op.request(URLS)["url"] == f"companies({COMPANY})/itemLedgerEntries?$filter=documentNumber%20eq%20'S-1'"
    link = f"{ROOT}/companies({COMPANY})/itemLedgerEntries?$filter=documentNumber%20eq%20'S-1'&$skiptoken=abc"
    first = {"value": [{"id": ID, "documentNumber": "S-1"}], "@odata.nextLink": link}
    assert op.read(inner(200, first)) is None
    assert op.exchange is not None and op.exchange.url == link
    assert (
        op.request(URLS)["url"]
        == f"companies({COMPANY})/itemLedgerEntries?$filter=documentNumber%20eq%20'S-1'&$skiptoken=abc"
    )
    assert op.read(inner(200, {"value": [{"id": OTHER, "documentNumber": "s-1"}]})) is None
    assert op.exchange is None
    assert [entity["id"] for entity in op.found] == [ID, OTHER]


def test_a_match_holding_another_value_is_a_bad_answer() -> None:
    op = matches(Asked("documentNumber", "S-1"))
    assert isinstance(op.read(inner(200, {"value": [{"id": ID, "documentNumber": "S-2"}]})), Retrying)
    assert op.found == []


def test_without_anything_to_check_by_the_matches_are_handed_over() -> None:
    op = matches(None)
    assert op.read(inner(200, {"value": [{"id": ID, "documentNumber": "S-2"}]})) is None
    assert op.found == [{"id": ID, "documentNumber": "S-2"}]


def test_a_filter_without_matches_finds_nothing_and_is_done() -> None:
    op = matches(Asked("documentNumber", "S-1"))
    assert op.read(inner(200, {"value": []})) is None
    assert (op.found, op.exchange) == ([], None)


def counting(settings: Any = SETTINGS) -> Operation:
    query = count_query(URLS, EntitySet.of("itemLedgerEntries"), CompanyId.of(COMPANY), "entryNumber ge 10")
    return Operation(settings, "3", query, asked=None, counting=True)


def test_a_counting_operation_keeps_the_count_and_is_done() -> None:
    op = counting()
    assert op.exchange is not None and "count=true" in op.request(URLS)["url"]
    assert op.read(inner(200, {"@odata.count": 42, "value": [{"id": ID}]})) is None
    assert (op.count, op.found, op.exchange) == (42, [], None)


@pytest.mark.parametrize("count", [None, -1, "42", 4.2, True])
def test_a_count_that_is_not_one_is_asked_again_then_a_bad_answer(count: object) -> None:
    op = counting(offline_settings(company_id=COMPANY, max_retries=1, backoff_factor=0.01, backoff_max=0.01))
    body = {"value": []} if count is None else {"@odata.count": count, "value": []}
    assert isinstance(op.read(inner(200, body)), Retrying)
    assert op.count is None and op.exchange is not None
    with pytest.raises(BusinessCentralBadAnswerError, match=r"@odata\.count is not a count"):
        op.read(inner(200, body))
