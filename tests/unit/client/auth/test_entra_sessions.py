"""The sessions MSAL sends its token requests through (``airflow_provider_bc.client.auth.entra_sessions``),
without a network: each answer is built by hand and handed over by an adapter mounted on the session, which
also records what was sent. What they refuse (an outage, a redirect, a 2xx answer MSAL cannot read) is a
typed error; everything else reaches MSAL as it came."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from airflow_provider_bc.client.auth import entra_sessions
from airflow_provider_bc.client.auth.entra_sessions import EntraSession, ManagedIdentitySession
from airflow_provider_bc.client.errors import (
    BusinessCentralAuthError,
    BusinessCentralBadAnswerError,
    BusinessCentralThrottledError,
)
from tests.support import offline_settings

SETTINGS = offline_settings(backoff_factor=0.01)
TOKEN_URL = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
MI_URL = "http://169.254.169.254/metadata/identity/oauth2/token"


class Canned(BaseAdapter):
    """Answers every request with the next of ``replies`` (status, body, headers) and keeps what was sent."""

    def __init__(self, *replies: tuple[int, bytes, Mapping[str, str]]) -> None:
        super().__init__()
        self.replies = list(replies)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        status, body, headers = self.replies.pop(0)
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def reply(status: int, payload: Any = None, **headers: str) -> tuple[int, bytes, Mapping[str, str]]:
    """A JSON answer (``payload`` as is when bytes); ``headers`` by Python name (``retry_after``: ``Retry-After``)."""
    named = {"-".join(part.capitalize() for part in name.split("_")): value for name, value in headers.items()}
    if isinstance(payload, bytes):
        return status, payload, named
    return (
        status,
        b"" if payload is None else json.dumps(payload).encode(),
        {"Content-Type": "application/json", **named},
    )


def session_with(
    kind: type[EntraSession], *replies: tuple[int, bytes, Mapping[str, str]]
) -> tuple[EntraSession, Canned]:
    session = kind(SETTINGS)
    adapter = Canned(*replies)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session, adapter


GOOD_TOKEN = {"access_token": "eyJ0eXAi.fake.token", "expires_in": 3599, "token_type": "Bearer"}


@pytest.mark.parametrize(
    ("kind", "url", "payload"),
    [
        (EntraSession, TOKEN_URL, GOOD_TOKEN),
        (EntraSession, TOKEN_URL, {}),  # Entra's answers are not all tokens (its discovery document)
        (EntraSession, TOKEN_URL, {"error": "invalid_client", "error_description": "AADSTS7000215"}),
        (ManagedIdentitySession, MI_URL, {"access_token": "t", "expires_on": "1700000000"}),
        (ManagedIdentitySession, MI_URL, {"access_token": "t", "expires_in": 3600, "expires_on": 1700000000}),
        (ManagedIdentitySession, MI_URL, {"error": "invalid_request", "error_description": "no such identity"}),
    ],
)
def test_an_answer_msal_can_read_reaches_it_as_it_came(kind: type[EntraSession], url: str, payload: Any) -> None:
    session, adapter = session_with(kind, reply(200, payload))
    response = session.post(url, data={"grant_type": "client_credentials"})
    assert (response.status_code, response.json()) == (200, payload)
    assert len(adapter.sent) == 1


@pytest.mark.parametrize("kind", [EntraSession, ManagedIdentitySession])
@pytest.mark.parametrize(
    "answer",
    [
        reply(400, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"}),
        reply(401, b"<html>not JSON</html>", content_type="text/html"),
        reply(404, b""),
    ],
)
def test_a_refusal_is_msals_to_report(kind: type[EntraSession], answer: tuple[int, bytes, Mapping[str, str]]) -> None:
    session, _ = session_with(kind, answer)
    response = session.get(TOKEN_URL)
    assert (response.status_code, response.content) == answer[:2]


@pytest.mark.parametrize(
    ("kind", "who", "prefix"),
    [
        (EntraSession, "Entra ID", "Entra"),
        (ManagedIdentitySession, "The managed identity endpoint", "managed identity"),
    ],
)
def test_throttling_names_the_error_code_and_keeps_retry_after(kind: type[EntraSession], who: str, prefix: str) -> None:
    session, _ = session_with(kind, reply(429, {"error": "temporarily_unavailable"}, retry_after="7"))
    with pytest.raises(BusinessCentralThrottledError) as caught:
        session.post(f"{TOKEN_URL}?client_secret=not-a-real-secret", data={})
    error = caught.value
    assert (error.status, error.code, error.url, error.retry_after) == (
        429,
        f"{prefix} temporarily_unavailable",
        TOKEN_URL,  # the query string left out
        "7",
    )
    assert error.transient
    assert error.message == f"{who} is not answering properly: HTTP 429 from {TOKEN_URL}"
    assert "not-a-real-secret" not in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
@pytest.mark.parametrize("body", [b"<html>Service Unavailable</html>", b"", b'["a list"]', b'{"error": ""}'])
def test_an_outage_without_an_error_code_is_an_outage(status: int, body: bytes) -> None:
    session, _ = session_with(EntraSession, reply(status, body, content_type="text/html"))
    with pytest.raises(BusinessCentralThrottledError) as caught:
        session.get(TOKEN_URL)
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (status, "Entra outage", None)


@pytest.mark.parametrize(
    ("location", "named"),
    [
        ("https://evil.example:8443/steal?code=abc123#frag", "to host evil.example:8443"),
        ("https://user:hunter2@evil.example/steal", "to host evil.example"),
        ("/common/oauth2/v2.0/token?code=abc123", "to host login.microsoftonline.com"),  # relative: the same host
        ("//other.example/path?code=abc123", "to host other.example"),
        ("https://" + "a" * 300 + ".example/", "to host " + "a" * 100 + ","),  # cut at 100 characters
        (None, "naming no host"),
        ("", "naming no host"),
    ],
)
def test_a_redirect_is_not_followed_and_names_only_its_host(location: str | None, named: str) -> None:
    headers = {} if location is None else {"location": location}
    session, adapter = session_with(EntraSession, reply(302, b"", **headers), reply(200, GOOD_TOKEN))
    with pytest.raises(BusinessCentralAuthError) as caught:
        session.post(TOKEN_URL, data={"client_secret": "not-a-real-secret"})
    error = caught.value
    assert len(adapter.sent) == 1  # the secret went nowhere else
    assert (error.status, error.url) == (302, TOKEN_URL)
    assert error.message.startswith(f"Entra ID answered the request to {TOKEN_URL} with a redirect (HTTP 302) {named}")
    assert "which is not followed: check extra 'authority' (https://login.microsoftonline.com;" in error.message
    assert "abc123" not in str(error) and "hunter2" not in str(error) and "steal" not in str(error)
    assert not error.transient


@pytest.mark.parametrize("status", [301, 303, 307, 308, 399])
def test_a_managed_identity_redirect_points_at_the_hosts_endpoint(status: int) -> None:
    session, _ = session_with(ManagedIdentitySession, reply(status, b"", location="http://169.254.169.254:81/x"))
    with pytest.raises(BusinessCentralAuthError) as caught:
        session.get(MI_URL, params={"resource": "https://api.businesscentral.dynamics.com"})
    message = caught.value.message
    assert message.startswith(
        f"The managed identity endpoint answered the request to {MI_URL} with a redirect (HTTP {status}) "
        "to host 169.254.169.254:81, which is not followed: check the managed identity endpoint this host sets "
        "(IDENTITY_ENDPOINT, MSI_ENDPOINT, or IMDS at 169.254.169.254)"
    )
    assert caught.value.status == status


@pytest.mark.parametrize("kind", [EntraSession, ManagedIdentitySession])
@pytest.mark.parametrize(
    "body", [b"<html><body>Sign in to the proxy</body></html>", b"", b"[1, 2]", b'"a string"', b"{truncated"]
)
def test_a_2xx_answer_that_is_not_a_json_object_is_a_bad_answer(kind: type[EntraSession], body: bytes) -> None:
    session, _ = session_with(kind, reply(200, body, content_type="text/html"))
    with pytest.raises(BusinessCentralBadAnswerError) as caught:
        session.get(TOKEN_URL)
    error = caught.value
    assert (error.status, error.code, error.url) == (200, kind.code, TOKEN_URL)
    assert error.message == (
        f"{kind.who} answered HTTP 200 from {TOKEN_URL} with a body that is not a JSON object ({len(body)} bytes)"
    )
    assert error.transient  # asked again by the caller's retry loop


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({}, "no 'access_token'"),
        ({"access_token": "", "expires_in": 3600}, "no 'access_token'"),
        ({"access_token": 12345, "expires_in": 3600}, "no 'access_token'"),
        ({"access_token": None, "expires_in": 3600}, "no 'access_token'"),
        ({"access_token": "t"}, "neither 'expires_on' nor 'expires_in'"),
        ({"access_token": "t", "expires_on": "soon"}, "'expires_on' is not a whole number of seconds ('soon')"),
        ({"access_token": "t", "expires_in": None}, "'expires_in' is not a whole number of seconds (None)"),
        ({"access_token": "t", "expires_in": "1.5"}, "'expires_in' is not a whole number of seconds ('1.5')"),
        ({"access_token": "t", "expires_in": [3600]}, "'expires_in' is not a whole number of seconds ([3600])"),
        (
            {"access_token": "t", "expires_in": 3600, "expires_on": "x" * 40},
            "'expires_on' is not a whole number of seconds (a str of 40 characters)",
        ),
    ],
)
def test_a_managed_identity_token_msal_cannot_read_is_a_bad_answer(payload: dict[str, Any], problem: str) -> None:
    session, _ = session_with(ManagedIdentitySession, reply(200, payload))
    with pytest.raises(BusinessCentralBadAnswerError) as caught:
        session.get(MI_URL)
    assert caught.value.message == (
        f"The managed identity endpoint answered HTTP 200 from {MI_URL} with an answer MSAL cannot read: {problem}"
    )
    assert caught.value.code == "managed identity"


def test_an_infinite_expiry_is_a_bad_answer_and_the_token_is_never_shown() -> None:
    body = b'{"access_token": "eyJ.secret-token.sig", "expires_in": Infinity}'  # what Python's json reads
    session, _ = session_with(ManagedIdentitySession, reply(200, body))
    with pytest.raises(BusinessCentralBadAnswerError) as caught:
        session.get(MI_URL)
    assert caught.value.message.endswith("'expires_in' is not a whole number of seconds (inf)")
    assert "secret-token" not in str(caught.value)


def test_entra_reads_no_token_checks_into_its_answers() -> None:
    """An Entra answer is MSAL's to read once it is a JSON object: only the managed identity's is checked."""
    payload = {"access_token": "t", "expires_in": "soon"}
    entra, _ = session_with(EntraSession, reply(200, payload))
    assert entra.get(TOKEN_URL).json() == payload
    managed, _ = session_with(ManagedIdentitySession, reply(200, payload))
    with pytest.raises(BusinessCentralBadAnswerError):
        managed.get(MI_URL)


def test_the_session_sends_with_the_settings_timeouts_and_user_agent() -> None:
    settings = offline_settings(connect_timeout=3.5, read_timeout=41.0)
    session = EntraSession(settings)
    seen: dict[str, Any] = {}

    class Recording(Canned):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            seen.update(kwargs)
            return super().send(request, **kwargs)

    adapter = Recording(reply(200, GOOD_TOKEN))
    session.mount("https://", adapter)
    session.post(TOKEN_URL)
    assert seen["timeout"] == (3.5, 41.0)
    assert adapter.sent[0].headers["User-Agent"].startswith("airflow-provider-business-central/")


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("https://user:pw@login.example.com:8443/path?code=secret", "login.example.com:8443"),
        ("/relative?code=secret", "login.microsoftonline.com"),
        ("https://[::1/broken", "(unreadable)"),
        (None, ""),
    ],
)
def test_a_redirect_is_named_by_its_host_alone(location: str | None, host: str) -> None:
    assert entra_sessions._host_of("https://login.microsoftonline.com/t/oauth2/v2.0/token", location) == host
