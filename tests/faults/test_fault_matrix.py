"""The fault matrix: every kind of failure the emulator can produce, on the sync and the async path.

Each case states the faults, what the read must end in (entities, or a typed error and its
message) and exactly how many requests the emulator received. Settings: ``max_retries=2``, so
no case may ever cost more than 3 API requests.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_bc.client import errors
from airflow_provider_bc.client.odata.lookup import Lookup
from tests.faults.conftest import Reader, api_requests, statuses

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"
BY_ID = Lookup(entity_id=DOCUMENTED_ID)
ENTRY = "itemLedgerEntry"
RETRY_LOG = "airflow_provider_bc.client.http.retry"


@dataclass(frozen=True)
class Case:
    """Faults to add (``add_fault`` arguments), then a lookup by id; the outcome and the requests seen."""

    faults: list[dict[str, Any]]
    seen: list[int]  # statuses the emulator recorded on the entity route, in order (0: no complete answer)
    error: type[errors.BusinessCentralError] | None = None
    message: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    waits: list[str] = field(default_factory=list)  # "Retry-After" / "backoff", one per retry


def _http_date(seconds_ahead: int) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


CASES: dict[str, Case] = {
    "429-retry-after-seconds": Case([{"kind_or_status": 429, "retry_after": 1}], [429, 200], waits=["Retry-After"]),
    "429-retry-after-http-date": Case(
        [{"kind_or_status": 429, "retry_after": "DATE+2"}], [429, 200], waits=["Retry-After"]
    ),
    "429-no-retry-after": Case([{"kind_or_status": 429}], [429, 200], waits=["backoff"]),
    "429-retry-after-above-the-cap": Case(
        [{"kind_or_status": 429, "retry_after": 600}],
        [429],
        errors.BusinessCentralThrottledError,
        "asks to wait 600 s (Retry-After), more than retry_after_max=5",
    ),
    "429-unreadable-retry-after": Case([{"kind_or_status": 429, "retry_after": "soon"}], [429, 200], waits=["backoff"]),
    "503-storm-beyond-the-budget": Case(
        [{"kind_or_status": 503, "count": 10}],
        [503, 503, 503],
        errors.BusinessCentralThrottledError,
        "gave up after 3 attempts (max_retries=2)",
        waits=["backoff", "backoff"],
    ),
    "502-burst": Case([{"kind_or_status": 502, "count": 2}], [502, 502, 200], waits=["backoff", "backoff"]),
    "504-burst": Case([{"kind_or_status": 504, "count": 2}], [504, 504, 200]),
    # 500 is BC failing this very request (an AL error, a bug): at once again fails again.
    "500-not-retried": Case([{"kind_or_status": 500}], [500], errors.BusinessCentralServerError, "HTTP 500"),
    "reset-before-the-status-line": Case([{"kind_or_status": "drop"}], [0, 200]),
    "resets-beyond-the-budget": Case(
        [{"kind_or_status": "drop", "count": 5}],
        [0, 0, 0],
        errors.BusinessCentralConnectionError,
        "gave no complete answer",
    ),
    "body-cut-mid-way": Case([{"kind_or_status": "cut"}], [0, 200]),
    "no-answer-within-the-read-timeout": Case(
        [{"kind_or_status": "stall", "delay": 3.0}], [200, 200], settings={"read_timeout": 1.0}
    ),
    "body-slower-than-the-read-timeout": Case(
        [{"kind_or_status": "slow_body", "delay": 3.0}], [200, 200], settings={"read_timeout": 1.0}
    ),
    "slow-answers-beyond-the-budget": Case(
        [{"kind_or_status": "stall", "delay": 3.0, "count": 3}],
        [200, 200, 200],
        errors.BusinessCentralConnectionError,
        "read_timeout=1.0",
        settings={"read_timeout": 1.0},
    ),
    "200-html-page": Case([{"kind_or_status": "html_200"}], [200, 200]),
    "200-truncated-json": Case([{"kind_or_status": "invalid_json"}], [200, 200]),
    "200-empty-body": Case([{"kind_or_status": "empty"}], [200, 200]),
    "200-wrong-content-type": Case([{"kind_or_status": "content_type", "content_type": "text/html"}], [200, 200]),
    "200-garbled-beyond-the-budget": Case(
        [{"kind_or_status": "empty", "count": 3}],
        [200, 200, 200],
        errors.BusinessCentralBadAnswerError,
        "not a JSON object",
    ),
    "a-proxy-html-502": Case([{"kind_or_status": "html"}], [502, 200]),
    "a-mix-of-faults-shares-one-budget": Case(
        [{"kind_or_status": 503}, {"kind_or_status": "cut"}, {"kind_or_status": 429}, {"kind_or_status": "drop"}],
        [503, 0, 429],
        errors.BusinessCentralThrottledError,
        "gave up after 3 attempts",
    ),
    "401-twice-in-a-row": Case(
        [{"kind_or_status": 401, "count": 2}],
        [401, 401],
        errors.BusinessCentralTokenRejectedError,
        "Authentication_InvalidCredentials",
    ),
    "403-permissions": Case(
        [{"kind_or_status": 403}], [403], errors.BusinessCentralPermissionError, "Authorization_InsufficientPermissions"
    ),
    "a-302-to-another-host": Case(
        [{"kind_or_status": "redirect", "location": "https://elsewhere.example/steal"}],
        [302],
        errors.BusinessCentralError,
        "a redirect to 'https://elsewhere.example/steal', which is not followed",
    ),
}


def _add(emulator: Any, fault: dict[str, Any]) -> None:
    fault = dict(fault)
    if fault.get("retry_after") == "DATE+2":
        fault["retry_after"] = _http_date(2)
    emulator.add_fault(fault.pop("kind_or_status"), route=ENTRY, **fault)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fault_on_an_entity_read(
    case: Case,
    path: str,
    bc_emulator: Any,
    reader_for: Callable[..., Reader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader = reader_for(**case.settings)
    reader.get(BY_ID)
    bc_emulator.reset()  # the token is cached now; count from here
    for fault in case.faults:
        _add(bc_emulator, fault)
    caplog.set_level(logging.WARNING, logger=RETRY_LOG)
    if case.error is None:
        assert [e["entryNumber"] for e in reader.get(BY_ID)] == [1]
    else:
        with pytest.raises(case.error) as caught:
            reader.get(BY_ID)
        assert type(caught.value) is case.error
        assert case.message in str(caught.value)
        assert caught.value.attempts == len(case.seen)
    assert statuses(bc_emulator, ENTRY) == case.seen
    assert len(case.seen) <= 3  # max_retries=2
    decisions = [r.getMessage() for r in caplog.records if r.name == RETRY_LOG and "retry" in r.getMessage()]
    assert len(decisions) == len(case.seen) - 1
    for wanted, decision in zip(case.waits, decisions, strict=False):
        assert decision.endswith(f"({wanted})"), decision


def test_retry_after_in_seconds_is_waited_exactly(
    path: str, bc_emulator: Any, reader_for: Callable[..., Reader], caplog: pytest.LogCaptureFixture
) -> None:
    reader = reader_for()
    bc_emulator.add_fault(429, route=ENTRY, retry_after=1)
    caplog.set_level(logging.WARNING, logger=RETRY_LOG)
    assert reader.get(BY_ID)
    (decision,) = [r.getMessage() for r in caplog.records if r.name == RETRY_LOG]
    assert (
        "HTTP 429 Application_TooManyRequests" in decision and "retry 1 of at most 2 in 1.0 s (Retry-After)" in decision
    )


def test_no_retry_at_all_with_max_retries_zero(path: str, bc_emulator: Any, reader_for: Callable[..., Reader]) -> None:
    reader = reader_for(max_retries=0)
    bc_emulator.add_fault(503, route=ENTRY, count=2)
    with pytest.raises(errors.BusinessCentralThrottledError, match="gave up after 1 attempts"):
        reader.get(BY_ID)
    assert statuses(bc_emulator, ENTRY) == [503]


def test_a_deadline_ends_the_waiting(path: str, bc_emulator: Any, reader_for: Callable[..., Reader]) -> None:
    reader = reader_for()
    bc_emulator.add_fault(503, route=ENTRY, retry_after=3)
    client = reader._sync if path == "sync" else None
    if client is not None:
        with pytest.raises(errors.BusinessCentralThrottledError, match="no time left before the deadline"):
            client.lookup(BY_ID, time_budget=1.0)
    else:
        with pytest.raises(errors.BusinessCentralThrottledError, match="no time left before the deadline"):
            reader._loop.run_until_complete(reader._async.lookup(BY_ID, time_budget=1.0))
    assert statuses(bc_emulator, ENTRY) == [503]


# --- the token: Entra's faults, a revoked token, a wrong secret -------------------------------------


def test_a_token_revoked_while_cached_is_replaced_once(
    path: str, bc_emulator: Any, reader_for: Callable[..., Reader]
) -> None:
    reader = reader_for(fresh_client=True)
    assert reader.get(BY_ID)
    bc_emulator.reset()
    bc_emulator.revoke_tokens(reader_client_id(reader))
    assert [e["id"] for e in reader.get(BY_ID)] == [DOCUMENTED_ID]
    assert statuses(bc_emulator, ENTRY) == [401, 200]
    assert statuses(bc_emulator, "token") == [200]  # exactly one new token


def reader_client_id(reader: Reader) -> str:
    client = reader._sync if reader.path == "sync" else reader._async
    return client.settings.client_id


@pytest.mark.parametrize(
    ("route", "fault", "seen"),
    [
        ("token", {"kind_or_status": 429, "retry_after": 1}, [429, 200]),
        ("token", {"kind_or_status": 503}, [503, 200]),
        ("token", {"kind_or_status": 502, "count": 2}, [502, 502, 200]),
        ("token", {"kind_or_status": "invalid_json"}, [200, 200]),
        ("token", {"kind_or_status": "drop"}, [0, 200]),
        ("discovery", {"kind_or_status": 503}, [503, 200]),
        ("discovery", {"kind_or_status": "invalid_json"}, [200, 200]),
    ],
    ids=[
        "token-429",
        "token-503",
        "token-502-burst",
        "token-garbled",
        "token-reset",
        "discovery-503",
        "discovery-garbled",
    ],
)
def test_entra_hiccups_are_retried_from_the_same_budget(
    route: str, fault: dict[str, Any], seen: list[int], path: str, bc_emulator: Any, reader_for: Callable[..., Reader]
) -> None:
    fault = dict(fault)
    bc_emulator.add_fault(fault.pop("kind_or_status"), route=route, **fault)
    reader = reader_for(fresh_client=True)
    assert [e["id"] for e in reader.get(BY_ID)] == [DOCUMENTED_ID]
    assert statuses(bc_emulator, route) == seen
    assert statuses(bc_emulator, ENTRY) == [200]


def test_an_entra_outage_beyond_the_budget_is_a_transient_error(
    path: str, bc_emulator: Any, reader_for: Callable[..., Reader]
) -> None:
    bc_emulator.add_fault(503, route="token", count=10)
    reader = reader_for(fresh_client=True)
    with pytest.raises(errors.BusinessCentralThrottledError, match="Entra ID") as caught:
        reader.get(BY_ID)
    assert caught.value.transient and caught.value.attempts == 3
    assert statuses(bc_emulator, "token") == [503, 503, 503]
    assert api_requests(bc_emulator) == []


def test_a_wrong_secret_is_not_retried(path: str, bc_emulator: Any, reader_for: Callable[..., Reader]) -> None:
    client_id, _ = bc_emulator.register_client()
    reader = reader_for(client_id=client_id, client_secret="not-the-secret")
    with pytest.raises(errors.BusinessCentralAuthError, match="invalid_client") as caught:
        reader.get(BY_ID)
    assert not caught.value.transient
    assert statuses(bc_emulator, "token") == [401]
    assert api_requests(bc_emulator) == []


def test_entra_unreachable(path: str, bc_emulator: Any, reader_for: Callable[..., Reader], closed_port: int) -> None:
    reader = reader_for(fresh_client=True, authority=f"https://127.0.0.1:{closed_port}")
    with pytest.raises(errors.BusinessCentralConnectionError, match="gave no complete answer") as caught:
        reader.get(BY_ID)
    assert caught.value.attempts == 3
    assert api_requests(bc_emulator) == []


def test_api_unreachable(path: str, bc_emulator: Any, reader_for: Callable[..., Reader], closed_port: int) -> None:
    reader = reader_for(api_host=f"https://127.0.0.1:{closed_port}")
    with pytest.raises(errors.BusinessCentralConnectionError, match="gave up after 3 attempts") as caught:
        reader.get(BY_ID)
    assert caught.value.transient and caught.value.url and str(closed_port) in caught.value.url


# --- what the emulator answers for things that are not there --------------------------------------


def test_unknown_company(path: str, bc_emulator: Any, reader_for: Callable[..., Reader]) -> None:
    unknown = "00000000-0000-0000-0000-0000000000c0"
    with pytest.raises(errors.BusinessCentralNotFoundError, match="Internal_CompanyNotFound") as caught:
        reader_for().get(Lookup(entity_id=DOCUMENTED_ID, company_id=unknown))
    assert not caught.value.transient and unknown in str(caught.value)
    assert statuses(bc_emulator, ENTRY) == [404]


def test_unknown_environment(path: str, bc_emulator: Any, reader_for: Callable[..., Reader]) -> None:
    with pytest.raises(errors.BusinessCentralNotFoundError, match="nosuchenv") as caught:
        reader_for(environment="nosuchenv").get(BY_ID)
    assert caught.value.code == "BadRequest_ResourceNotFound"
    assert statuses(bc_emulator, ENTRY) == [404]


def test_a_missing_entity_is_empty_not_an_error(path: str, bc_emulator: Any, reader_for: Callable[..., Reader]) -> None:
    assert reader_for().get(Lookup(entity_id="00000000-0000-0000-0000-000000000001")) == []
    assert statuses(bc_emulator, ENTRY) == [404]


@pytest.fixture
def closed_port() -> int:
    import socket

    with socket.socket() as probe:  # nobody listens on it once this block ends
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
