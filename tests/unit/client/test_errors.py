"""Typed errors from answers: which class a status becomes, what the message carries, and what it never loses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_bc.client import errors
from airflow_provider_bc.client.errors import (
    BusinessCentralConfigError,
    BusinessCentralError,
    BusinessCentralQueryError,
    error_from_response,
)

URL = "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0/companies"
CORRELATION = "0b2e6c6e-7f55-4c3b-9a55-1f0c8a1d2e3f"


def bc_body(code: str | None = "Internal_Something", message: Any = "Something went wrong.") -> bytes:
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["code"] = code
    return json.dumps({"error": error}).encode()


def answer(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None, **kwargs: Any
) -> BusinessCentralError:
    return error_from_response(status, headers or {}, body, url=URL, **kwargs)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, errors.BusinessCentralBadRequestError),
        (401, errors.BusinessCentralTokenRejectedError),
        (403, errors.BusinessCentralPermissionError),
        (404, errors.BusinessCentralNotFoundError),
        (408, errors.BusinessCentralServerError),
        (429, errors.BusinessCentralThrottledError),
        (500, errors.BusinessCentralServerError),
        (501, errors.BusinessCentralServerError),
        (502, errors.BusinessCentralThrottledError),
        (503, errors.BusinessCentralThrottledError),
        (504, errors.BusinessCentralThrottledError),
        (505, errors.BusinessCentralServerError),
        (599, errors.BusinessCentralServerError),
        # anything else stays the base class: neither retried nor taken for a server failure
        (302, BusinessCentralError),
        (402, BusinessCentralError),
        (405, BusinessCentralError),
        (407, BusinessCentralError),
        (409, BusinessCentralError),
        (499, BusinessCentralError),
    ],
)
def test_each_status_becomes_its_class(status: int, kind: type[BusinessCentralError]) -> None:
    error = answer(status, bc_body())
    assert type(error) is kind
    assert error.status == status


@pytest.mark.parametrize(
    ("kind", "transient"),
    [
        (errors.BusinessCentralThrottledError, True),
        (errors.BusinessCentralServerError, True),
        (errors.BusinessCentralBadAnswerError, True),
        (errors.BusinessCentralConnectionError, True),
        (BusinessCentralError, False),
        (errors.BusinessCentralBadRequestError, False),
        (errors.BusinessCentralAuthError, False),
        (errors.BusinessCentralTokenRejectedError, False),
        (errors.BusinessCentralPermissionError, False),
        (errors.BusinessCentralNotFoundError, False),
        (errors.BusinessCentralTLSError, False),
        (errors.BusinessCentralUnsafeLinkError, False),
    ],
)
def test_only_what_waiting_may_cure_is_transient(kind: type[BusinessCentralError], transient: bool) -> None:
    assert kind("x").transient is transient


def test_a_business_central_error_body_gives_code_message_and_ids() -> None:
    error = answer(
        404,
        bc_body("Internal_RecordNotFound", "The record does not exist.  CorrelationId:  " + CORRELATION + "."),
        {"Request-Id": "req-1", "Retry-After": "7"},
        client_request_id="ours-1",
        context="GET itemLedgerEntries(1)",
    )
    assert error.code == "Internal_RecordNotFound"
    assert error.request_id == "req-1"
    assert error.client_request_id == "ours-1"
    assert error.correlation_id == CORRELATION
    assert error.retry_after == "7"
    assert error.url == URL
    assert error.attempts is None
    assert error.message == (
        "GET itemLedgerEntries(1): Business Central answered HTTP 404: The record does not exist.  "
        f"CorrelationId:  {CORRELATION}."
    )
    assert str(error) == (
        f"{error.message} (status=404, code=Internal_RecordNotFound, url={URL}, request_id=req-1, "
        f"correlation_id={CORRELATION}, client_request_id=ours-1)"
    )


def test_the_correlation_header_wins_over_the_one_in_the_message() -> None:
    error = answer(500, bc_body(message=f"Boom. CorrelationId: {CORRELATION}"), {"ms-correlation-x": "from-header"})
    assert error.correlation_id == "from-header"


def test_no_correlation_id_without_header_or_id_in_the_message() -> None:
    error = answer(500, bc_body(message="CorrelationId: not-a-guid"))
    assert error.correlation_id is None
    assert "correlation_id" not in str(error)


def test_without_context_the_message_starts_with_the_answer() -> None:
    error = answer(400, bc_body("BadRequest", "Bad filter."))
    assert error.message == "Business Central answered HTTP 400: Bad filter."


def test_an_error_object_without_code_keeps_its_message() -> None:
    error = answer(409, bc_body(code=None, message="Conflict."))
    assert error.code is None
    assert error.message == "Business Central answered HTTP 409: Conflict."
    assert str(error) == f"{error.message} (status=409, url={URL})"


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"<html><body>Bad Gateway</body></html>", "non-JSON answer: '<html><body>Bad Gateway</body></html>'"),
        (b"  upstream timed out \n", "non-JSON answer: 'upstream timed out'"),
        (b"", "empty answer"),
        (b" \r\n ", "empty answer"),
        (b"caf\xc3\xa9 \xff", "non-JSON answer: 'café \ufffd'"),
    ],
    ids=["html", "text", "empty", "blank", "bad-utf8"],
)
def test_an_answer_without_a_business_central_message_shows_its_start(body: bytes, shown: str) -> None:
    error = answer(502, body)
    assert error.message == f"Business Central answered HTTP 502: {shown}"
    assert error.code is None
    assert str(error) == f"{error.message} (status=502, url={URL})"


@pytest.mark.parametrize("body", [b'{"error": "just text"}', b'{"error": {"code": "X"}}', b'["error"]', b"{}"])
def test_json_without_an_error_message_shows_the_body(body: bytes) -> None:
    assert answer(400, body).message.endswith(f": {body.decode()!r}")


def test_a_code_is_kept_even_when_the_message_is_missing() -> None:
    assert answer(400, b'{"error": {"code": "BadRequest_X"}}').code == "BadRequest_X"


def test_a_long_non_json_answer_is_cut_to_200_bytes() -> None:
    body = b"<" + b"x" * 198 + b"|" + b"y" * 500
    error = answer(503, body)
    assert error.message == f"Business Central answered HTTP 503: non-JSON answer: {body[:200].decode()!r}"
    assert "y" not in error.message


@pytest.mark.parametrize("status", [300, 301, 302, 307, 308, 399])
def test_a_redirect_names_where_it_points_and_is_not_followed(status: int) -> None:
    error = answer(status, b"", {"Location": "https://elsewhere.example/x"})
    assert error.message == (
        f"Business Central answered HTTP {status}: a redirect to 'https://elsewhere.example/x', "
        "which is not followed (check the connection's host)"
    )


def test_a_redirect_without_location_points_nowhere_and_a_long_one_is_cut() -> None:
    assert "a redirect to 'nowhere'" in answer(302, b"").message
    assert "a redirect to 'nowhere'" in answer(302, b"", {"Location": ""}).message
    long_location = "https://elsewhere.example/" + "a" * 174 + "|" + "b" * 100
    assert f"a redirect to {long_location[:200]!r}, which" in answer(302, b"", {"Location": long_location}).message


def test_a_non_redirect_with_a_location_keeps_its_own_message() -> None:
    for status in (299, 400):
        error = answer(status, bc_body("Code", "Own message."), {"Location": "https://elsewhere.example/x"})
        assert error.message.endswith(": Own message.")


def test_after_attempts_records_the_count_and_the_reason_in_the_message() -> None:
    error = BusinessCentralError("Service unavailable", status=503, url=URL)
    assert str(error) == f"Service unavailable (status=503, url={URL})"
    same = error.after_attempts(3, "gave up")
    assert same is error
    assert error.attempts == 3
    assert error.message == "Service unavailable; gave up"
    assert str(error) == f"Service unavailable; gave up (status=503, url={URL}, attempts=3)"
    assert error.args == (str(error),)


def test_after_attempts_without_a_reason_keeps_the_message() -> None:
    error = BusinessCentralError("Not found", status=404).after_attempts(1)
    assert error.message == "Not found"
    assert str(error) == "Not found (status=404, attempts=1)"


def test_an_error_without_details_is_just_its_message() -> None:
    error = BusinessCentralError("plain")
    assert str(error) == "plain"
    assert error.args == ("plain",)
    assert (error.status, error.code, error.request_id, error.correlation_id) == (None, None, None, None)
    assert (error.client_request_id, error.url, error.retry_after, error.attempts) == (None, None, None, None)


def test_every_detail_is_rendered_in_a_fixed_order() -> None:
    error = BusinessCentralError(
        "m",
        status=429,
        code="C",
        request_id="r",
        correlation_id="c",
        client_request_id="o",
        url="u",
        retry_after="5",
    ).after_attempts(2)
    assert str(error) == (
        "m (status=429, code=C, url=u, attempts=2, request_id=r, correlation_id=c, client_request_id=o)"
    )
    assert error.retry_after == "5"


def test_a_config_error_names_the_setting_and_where_it_came_from() -> None:
    error = BusinessCentralConfigError("tenant_id", "missing", source="connection 'bc_prod'")
    assert (error.field, error.source) == ("tenant_id", "connection 'bc_prod'")
    assert str(error) == "Business Central setting 'tenant_id' of connection 'bc_prod': missing"
    assert isinstance(error, ValueError) and not error.transient
    bare = BusinessCentralConfigError("verify", "no such file")
    assert bare.source is None
    assert str(bare) == "Business Central setting 'verify': no such file"


def test_a_query_error_names_the_argument_and_is_a_bad_request() -> None:
    error = BusinessCentralQueryError("top", "must be a positive integer, got 0")
    assert error.field == "top"
    assert str(error) == "top: must be a positive integer, got 0"
    assert isinstance(error, errors.BusinessCentralBadRequestError)
    assert isinstance(error, ValueError)
    assert error.status is None
