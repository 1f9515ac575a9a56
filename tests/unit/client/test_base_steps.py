"""The steps of a request and of a ``$batch`` read (``client/base.py``), run without I/O: what each
asks for next, after which answer or error, and when it gives up. Both clients only perform these."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from airflow_provider_bc.client import errors
from airflow_provider_bc.client.base import Send, Stepper, Steps, batch_steps, request_steps
from airflow_provider_bc.client.batch.reads import EntitiesById
from airflow_provider_bc.client.http.exchange import Answer
from airflow_provider_bc.client.http.retry import Retrying
from airflow_provider_bc.client.odata.queries import Query
from airflow_provider_bc.client.odata.urls import ApiUrls
from tests.support import offline_settings

SETTINGS = offline_settings(company_id="44a76d24-52ff-eb11-bb76-000d3a220646", max_retries=2, backoff_factor=0.5)
QUERY = Query("https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0/companies", context="GET companies")
ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def ok(payload: dict[str, Any]) -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())


def run(steps: Steps[Any], replies: list[Answer | errors.BusinessCentralError]) -> tuple[Any, list[object]]:
    """Run ``steps``, answering each send with the next reply (an error is raised by the "I/O");
    returns the result and the steps asked for."""
    stepper, asked = Stepper(steps), []
    while (step := stepper.next()) is not None:
        asked.append(step)
        if isinstance(step, Retrying):
            stepper.answered(None)
        elif isinstance(reply := replies.pop(0), errors.BusinessCentralError):
            stepper.failed(reply)
        else:
            stepper.answered(reply)
    assert not replies, "replies left unasked"
    return stepper.result, asked


def test_a_request_answered_at_once_is_one_send() -> None:
    result, asked = run(request_steps(SETTINGS, QUERY), [ok({"value": [1]})])
    assert result == {"value": [1]}
    assert [type(step) for step in asked] == [Send] and asked[0].exchange.url == QUERY.url  # type: ignore[attr-defined]


def test_a_rejected_token_is_renewed_at_once_then_the_request_is_sent_again() -> None:
    rejected = errors.BusinessCentralTokenRejectedError("HTTP 401", status=401)
    result, asked = run(request_steps(SETTINGS, QUERY), [rejected, ok({"value": []})])
    assert result == {"value": []}
    assert asked[1] == Retrying(0.0, new_token=True) and isinstance(asked[2], Send)


def test_throttling_waits_as_told_and_gives_up_after_max_retries() -> None:
    throttled = [errors.BusinessCentralThrottledError("HTTP 429", status=429, retry_after="3") for _ in range(3)]
    steps = request_steps(SETTINGS, QUERY)
    with pytest.raises(errors.BusinessCentralThrottledError, match="gave up after 3 attempts") as caught:
        run(steps, list(throttled))
    assert caught.value is throttled[-1]


def test_no_wait_starts_past_the_deadline() -> None:
    throttled = errors.BusinessCentralThrottledError("HTTP 429", status=429, retry_after="30")
    with pytest.raises(errors.BusinessCentralThrottledError, match="no time left before the deadline"):
        run(request_steps(SETTINGS, QUERY, deadline=time.monotonic() + 5), [throttled])


def test_an_error_not_retried_ends_the_request_with_the_first_answer() -> None:
    refused = errors.BusinessCentralPermissionError("HTTP 403", status=403)
    with pytest.raises(errors.BusinessCentralPermissionError):
        run(request_steps(SETTINGS, QUERY), [refused])


def test_a_batch_read_sends_its_post_and_asks_an_operation_again_after_its_wait() -> None:
    batch = EntitiesById(SETTINGS, ApiUrls(SETTINGS), "itemLedgerEntries", [ID])
    busy = {"responses": [{"id": "0", "status": 503, "headers": {"Retry-After": "2"}, "body": {}}]}
    found = {"responses": [{"id": "0", "status": 200, "body": {"id": ID, "entryNumber": 1}}]}
    result, asked = run(batch_steps(SETTINGS, batch), [ok(busy), ok(found)])
    assert result == {ID: {"id": ID, "entryNumber": 1}}
    assert [type(step).__name__ for step in asked] == ["Send", "Retrying", "Send"]
    assert asked[1] == Retrying(2.0) and asked[0].operations == 1  # type: ignore[attr-defined]


def test_a_batch_deadline_bounds_the_operations_asked_again() -> None:
    batch = EntitiesById(SETTINGS, ApiUrls(SETTINGS), "itemLedgerEntries", [ID])
    busy = {"responses": [{"id": "0", "status": 503, "headers": {"Retry-After": "60"}, "body": {}}]}
    with pytest.raises(errors.BusinessCentralError, match="no time left before the deadline"):
        run(batch_steps(SETTINGS, batch, deadline=time.monotonic() + 5), [ok(busy)])
