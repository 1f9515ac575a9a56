"""The retry decisions of one request (``Attempts``), driven with typed errors as the clients raise them.

Waits are the values ``Attempts`` decides (nothing sleeps here); the jitter is bounded, so each
backoff is checked against its interval ``[factor * 2**(n-1), factor * 2**(n-1) + factor]``.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any

import pytest

from airflow_provider_bc.client import errors
from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.http.retry import Attempts, Retrying
from airflow_provider_bc.client.settings import ClientSettings
from tests.support import offline_settings

RETRY_LOG = "airflow_provider_bc.client.http.retry"
DESCRIBE = "GET https://bc.example.com/v2.0/items"


def settings(**overrides: Any) -> ClientSettings:
    return offline_settings(**overrides)


def attempts(*, deadline: float | None = None, **overrides: Any) -> Attempts:
    return Attempts(settings(**overrides), DESCRIBE, deadline=deadline)


def throttled(retry_after: str | None = None) -> errors.BusinessCentralThrottledError:
    return errors.BusinessCentralThrottledError(
        "Business Central answered HTTP 429: slow down",
        status=429,
        code="Application_TooManyRequests",
        retry_after=retry_after,
    )


def token_rejected() -> errors.BusinessCentralTokenRejectedError:
    return errors.BusinessCentralTokenRejectedError("Business Central answered HTTP 401: expired", status=401)


def dropped() -> errors.BusinessCentralConnectionError:
    return errors.BusinessCentralConnectionError("https://bc.example.com gave no complete answer: reset")


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages the retry module logged."""
    return [record.getMessage() for record in caplog.records if record.name == RETRY_LOG]


RETRIED = [
    throttled,
    dropped,
    lambda: errors.BusinessCentralBadAnswerError("an HTML page", status=200),
]

NOT_RETRIED = [
    lambda: errors.BusinessCentralServerError("HTTP 500", status=500),
    lambda: errors.BusinessCentralServerError("HTTP 408", status=408),
    lambda: errors.BusinessCentralBadRequestError("HTTP 400", status=400),
    lambda: errors.BusinessCentralAuthError("invalid_client"),
    lambda: errors.BusinessCentralPermissionError("HTTP 403", status=403),
    lambda: errors.BusinessCentralNotFoundError("HTTP 404", status=404),
    lambda: errors.BusinessCentralTLSError("not trusted"),
    lambda: errors.BusinessCentralUnsafeLinkError("elsewhere"),
    lambda: errors.BusinessCentralQueryError("top", "bad"),
    lambda: BusinessCentralError("HTTP 409", status=409, retry_after="1"),
]


@pytest.mark.parametrize("make", RETRIED, ids=["throttled", "no-answer", "bad-answer"])
def test_what_asking_again_may_cure_is_retried_with_the_same_token(make: Any) -> None:
    decision = attempts(backoff_factor=0.5, backoff_max=10).after(make())
    assert decision.new_token is False
    assert 0.5 <= decision.wait <= 1.0


@pytest.mark.parametrize("make", NOT_RETRIED, ids=lambda make: type(make()).__name__)
def test_everything_else_ends_the_request_at_once(make: Any) -> None:
    error = make()
    message = error.message
    with pytest.raises(BusinessCentralError) as caught:
        attempts().after(error)
    assert caught.value is error
    assert error.attempts == 1
    assert error.message == message  # no reason added: the error speaks for itself


def test_a_500_with_retry_after_is_still_not_retried() -> None:
    error = errors.BusinessCentralServerError("HTTP 503?", status=500, retry_after="1")
    with pytest.raises(errors.BusinessCentralServerError):
        attempts().after(error)


def test_one_rejected_token_is_replaced_at_once_a_second_one_ends_the_request() -> None:
    budget = attempts()
    assert budget.after(token_rejected()) == Retrying(0.0, new_token=True)
    assert budget.made == 2
    second = token_rejected()
    with pytest.raises(errors.BusinessCentralTokenRejectedError) as caught:
        budget.after(second)
    assert caught.value is second
    assert second.attempts == 2
    assert second.message == (
        "Business Central answered HTTP 401: expired; a new token was refused too: check that client id "
        "11111111-2222-3333-4444-555555555555 is enabled on Business Central's page Microsoft Entra Applications"
    )
    on_premises = attempts(api_host="https://bc.contoso.local:7048/BC", scope="api://bc-server/.default")
    on_premises.after(token_rejected())
    with pytest.raises(errors.BusinessCentralTokenRejectedError) as caught:
        on_premises.after(token_rejected())
    assert caught.value.message.endswith("ValidAudiences holds 'api://bc-server' (extra 'scope')")


def test_a_new_token_is_asked_for_once_even_with_other_retries_between() -> None:
    budget = attempts(max_retries=5)
    assert budget.after(token_rejected()).new_token is True
    assert budget.after(throttled("0")).new_token is False
    with pytest.raises(errors.BusinessCentralTokenRejectedError):
        budget.after(token_rejected())
    assert budget.made == 3


def test_the_new_token_comes_out_of_the_same_budget() -> None:
    budget = attempts(max_retries=1)
    assert budget.after(throttled("0")) == Retrying(0.0)
    error = token_rejected()
    with pytest.raises(errors.BusinessCentralTokenRejectedError) as caught:
        budget.after(error)
    assert caught.value.attempts == 2
    assert error.message.endswith("; gave up after 2 attempts (max_retries=1)")


def test_the_budget_allows_max_retries_retries() -> None:
    budget = attempts(max_retries=3)
    assert budget.made == 1
    for made in (2, 3, 4):
        assert budget.after(throttled("0")) == Retrying(0.0)
        assert budget.made == made
    last = throttled("0")
    with pytest.raises(errors.BusinessCentralThrottledError) as caught:
        budget.after(last)
    assert caught.value is last
    assert last.attempts == 4
    assert last.message == "Business Central answered HTTP 429: slow down; gave up after 4 attempts (max_retries=3)"


def test_no_retry_with_max_retries_zero() -> None:
    error = dropped()
    with pytest.raises(errors.BusinessCentralConnectionError):
        attempts(max_retries=0).after(error)
    assert error.attempts == 1
    assert error.message.endswith("; gave up after 1 attempts (max_retries=0)")


@pytest.mark.parametrize(("header", "wait"), [("0", 0.0), ("7", 7.0), (" 12 ", 12.0), ("300", 300.0)])
def test_retry_after_in_seconds_is_the_wait(header: str, wait: float) -> None:
    assert attempts(retry_after_max=300).after(throttled(header)) == Retrying(wait, new_token=False)


def test_retry_after_as_an_http_date_is_the_time_until_then() -> None:
    header = email.utils.formatdate(time.time() + 100, usegmt=True)
    decision = attempts().after(throttled(header))
    assert 90 < decision.wait <= 100
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert attempts().after(throttled(past)).wait == 0.0


def test_retry_after_above_retry_after_max_ends_the_request_naming_both() -> None:
    error = throttled("301")
    with pytest.raises(errors.BusinessCentralThrottledError) as caught:
        attempts(retry_after_max=300, max_retries=5).after(error)
    assert caught.value is error
    assert error.attempts == 1
    assert error.message == (
        "Business Central answered HTTP 429: slow down; Business Central asks to wait 301 s (Retry-After), "
        "more than retry_after_max=300 s allows"
    )


def test_a_far_http_date_is_refused_like_a_long_retry_after() -> None:
    header = email.utils.formatdate(time.time() + 3 * 86400, usegmt=True)
    with pytest.raises(errors.BusinessCentralThrottledError, match=r"asks to wait (25919[0-9]|259200) s"):
        attempts(retry_after_max=300).after(throttled(header))


def test_a_very_long_retry_after_is_read_in_full_before_it_is_refused() -> None:
    with pytest.raises(errors.BusinessCentralThrottledError, match=r"asks to wait 1000000000 s \(Retry-After\)"):
        attempts(retry_after_max=300).after(throttled("1000000000"))


@pytest.mark.parametrize("header", ["soon", "", "-5", "1.5", "Tuesday"])
def test_an_unreadable_retry_after_falls_back_to_backoff(header: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RETRY_LOG)
    decision = attempts(backoff_factor=2.0, backoff_max=60).after(throttled(header))
    assert 2.0 <= decision.wait <= 4.0
    assert decision.new_token is False
    assert f"{DESCRIBE}: ignoring an unreadable Retry-After {header!r}" in logged(caplog)


def test_an_unreadable_retry_after_is_logged_cut_to_40_characters(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RETRY_LOG)
    header = "x" * 39 + "|" + "y" * 100
    attempts().after(throttled(header))
    assert f"{DESCRIBE}: ignoring an unreadable Retry-After {header[:40]!r}" in logged(caplog)


def test_backoff_doubles_after_each_failure_with_at_most_one_factor_of_jitter() -> None:
    factor = 0.25
    budget = attempts(max_retries=6, backoff_factor=factor, backoff_max=1000)
    for failure in range(1, 7):
        base = factor * 2 ** (failure - 1)
        wait = budget.after(dropped()).wait
        assert base <= wait <= base + factor, (failure, wait)


def test_backoff_is_capped_at_backoff_max() -> None:
    budget = attempts(max_retries=6, backoff_factor=1.0, backoff_max=2.5)
    waits = [budget.after(dropped()).wait for _ in range(6)]
    assert 1.0 <= waits[0] <= 2.0
    assert waits[2:] == [2.5] * 4


def test_backoff_waits_are_spread_by_jitter() -> None:
    """Clients failing together must not all come back at the same instant."""
    waits = {attempts(backoff_factor=1.0, backoff_max=60).after(dropped()).wait for _ in range(20)}
    assert len(waits) > 1
    assert all(1.0 <= wait <= 2.0 for wait in waits)


def test_a_large_budget_is_honoured_in_full() -> None:
    budget = attempts(max_retries=25, backoff_factor=0)
    assert [budget.after(dropped()).wait for _ in range(25)] == [0.0] * 25
    with pytest.raises(errors.BusinessCentralConnectionError, match="gave up after 26 attempts"):
        budget.after(dropped())


def test_backoff_without_a_factor_retries_at_once() -> None:
    budget = attempts(max_retries=3, backoff_factor=0)
    assert [budget.after(dropped()) for _ in range(3)] == [Retrying(0.0)] * 3


def test_backoff_counts_only_failures_that_waited_by_backoff() -> None:
    budget = attempts(max_retries=5, backoff_factor=1.0, backoff_max=100)
    assert budget.after(throttled("0")).wait == 0.0
    assert budget.after(token_rejected()).wait == 0.0
    assert 1.0 <= budget.after(dropped()).wait <= 2.0  # the first backoff, though the third retry
    assert 2.0 <= budget.after(dropped()).wait <= 3.0


def test_a_deadline_leaves_room_for_a_short_wait_but_not_a_long_one() -> None:
    deadline = time.monotonic() + 600
    budget = attempts(deadline=deadline, retry_after_max=3600, max_retries=5)
    assert budget.after(throttled("5")) == Retrying(5.0)
    error = throttled("1200")
    with pytest.raises(errors.BusinessCentralThrottledError) as caught:
        budget.after(error)
    assert caught.value.attempts == 2
    assert error.message.endswith("; no time left before the deadline for a retry in 1200.0 s")


def test_a_passed_deadline_ends_even_an_immediate_retry() -> None:
    error = token_rejected()
    with pytest.raises(errors.BusinessCentralTokenRejectedError):
        attempts(deadline=time.monotonic() - 1).after(error)
    assert error.message.endswith("; no time left before the deadline for a retry in 0.0 s")
    assert error.attempts == 1


def test_no_deadline_allows_any_wait_up_to_retry_after_max() -> None:
    assert attempts(retry_after_max=86400).after(throttled("86400")) == Retrying(86400.0)


def test_each_retry_is_logged_with_its_cause_count_wait_and_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RETRY_LOG)
    budget = attempts(max_retries=6, backoff_factor=0)
    budget.after(throttled("3"))
    budget.after(token_rejected())
    budget.after(errors.BusinessCentralBadAnswerError("garbled", status=200))
    budget.after(errors.BusinessCentralBadAnswerError("garbled"))
    budget.after(errors.BusinessCentralConnectionError("reset", code="ConnectionError"))
    budget.after(dropped())
    assert logged(caplog) == [
        f"{DESCRIBE} failed (HTTP 429 Application_TooManyRequests); retry 1 of at most 6 in 3.0 s (Retry-After)",
        f"{DESCRIBE} failed (HTTP 401); retry 2 of at most 6 in 0.0 s (with a new token)",
        f"{DESCRIBE} failed (HTTP 200 answer that is not what Business Central sends); retry 3 of at most 6 in 0.0 s "
        "(backoff)",
        f"{DESCRIBE} failed (answer that is not what Business Central sends); retry 4 of at most 6 in 0.0 s (backoff)",
        f"{DESCRIBE} failed (ConnectionError); retry 5 of at most 6 in 0.0 s (backoff)",
        f"{DESCRIBE} failed (BusinessCentralConnectionError); retry 6 of at most 6 in 0.0 s (backoff)",
    ]
    assert all(record.levelno == logging.WARNING for record in caplog.records)


def test_giving_up_logs_no_retry(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=RETRY_LOG)
    with pytest.raises(errors.BusinessCentralThrottledError):
        attempts(max_retries=0).after(throttled("1"))
    assert logged(caplog) == []
