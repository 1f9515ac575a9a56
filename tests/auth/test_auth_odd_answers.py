"""Odd answers from the token endpoints, with real MSAL making every request: a redirect from Entra ID
(its discovery document or its token endpoint) or from a managed identity endpoint says that it
redirected and to which host, and is not retried; a managed identity answer MSAL cannot read (an
expiry that is not a number, no token) is a bad answer, retried like the others. No message carries
the client secret, the identity header, the token or what the redirect's address carried.

The emulator answers neither, so a small HTTPS server on a loopback port (a ``trustme`` CA, as the
emulator's) plays Entra ID and the managed identity endpoint.
"""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest
import trustme

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.errors import (
    BusinessCentralAuthError,
    BusinessCentralBadAnswerError,
    BusinessCentralError,
)
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.testing.credentials import FederatedIssuer
from tests.secret_scan import SecretScanner, find_leaks
from tests.support import without_managed_identity

TENANT = "contoso.onmicrosoft.com"
DISCOVERY = f"/{TENANT}/v2.0/.well-known/openid-configuration"
TOKEN = f"/{TENANT}/oauth2/v2.0/token"
APP_SERVICE = "/msi/token"
IMDS = "/metadata/identity/oauth2/token"
#: two retries, short waits
FAST: dict[str, Any] = {"max_retries": 2, "backoff_factor": 0.01, "backoff_max": 0.05}


class Reply(NamedTuple):
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = MappingProxyType({})


def as_json(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandIn

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.seen.append(f"{self.command} {path}")
        reply = self.server.replies.get(path, Reply(404))
        self.send_response(reply.status)
        for name, value in {**reply.headers, "Content-Length": str(len(reply.body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StandIn(ThreadingHTTPServer):
    """HTTPS on a loopback port: each path answers its :class:`Reply` (404 when it has none)."""

    daemon_threads = True

    def __init__(self, ca: trustme.CA) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server_address[1]}"
        self.replies: dict[str, Reply] = {}
        self.seen: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Place(NamedTuple):
    server: StandIn
    bundle: str


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    """The server, a CA bundle trusting it, and no managed identity endpoint in the environment."""
    without_managed_identity(monkeypatch)
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = StandIn(ca)
    yield Place(server, str(bundle))
    server.shutdown()
    server.server_close()


@dataclass(frozen=True)
class Secrets:
    """What no message may carry (kept out of ``repr``: a failed test's report shows its arguments)."""

    client_secret: str = field(default_factory=lambda: f"secret-{uuid.uuid4().hex}", repr=False)
    identity_header: str = field(default_factory=lambda: f"header-{uuid.uuid4().hex}", repr=False)
    token: str = field(default_factory=lambda: FederatedIssuer().token("token-of-the-stand-in"), repr=False)
    code: str = field(default_factory=lambda: f"code-{uuid.uuid4().hex}", repr=False)

    def kinds(self) -> dict[str, str]:
        """Each secret -> its kind, as the secret scan takes them."""
        return {getattr(self, name): name.replace("_", " ") for name in self.__dataclass_fields__}


@pytest.fixture
def secrets(secret_scanner: SecretScanner) -> Secrets:
    """This test's secrets, also handed to the session's secret scan."""
    made = Secrets()
    for value, kind in made.kinds().items():
        secret_scanner.add_secret(kind, value)
    return made


def redirect(secrets: Secrets) -> Reply:
    """A 302 to another host whose address carries credentials, a code and a token."""
    where = (
        f"https://someone:{secrets.client_secret}@login.elsewhere.example:8443/landing"
        f"?code={secrets.code}#access_token={secrets.token}"
    )
    return Reply(302, b"<html>Moved</html>", {"Location": where, "Content-Type": "text/html"})


def failure(settings: ClientSettings, secrets: Secrets) -> BusinessCentralError:
    """The error of one read through the client, checked to carry none of ``secrets``."""
    client = BusinessCentralClient(settings)
    try:
        with pytest.raises(BusinessCentralError) as caught:
            client.list_companies()
    finally:
        client.close()
    message = str(caught.value)
    assert find_leaks([("error", message)], secrets.kinds()) == []
    assert "landing" not in message
    return caught.value


def entra(place: Place, secrets: Secrets) -> ClientSettings:
    return ClientSettings(
        client_id=str(uuid.uuid4()),
        client_secret=secrets.client_secret,
        tenant_id=TENANT,
        authority=place.server.url,
        api_host=place.server.url,
        verify=place.bundle,
        **FAST,
    )


def discovery_document(place: Place) -> Reply:
    root = f"{place.server.url}/{TENANT}"
    return as_json(
        200,
        {
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
        },
    )


@pytest.mark.parametrize("redirected", [DISCOVERY, TOKEN])
def test_a_redirect_from_entra_says_where_to_and_what_to_check(
    stand_in: Place, secrets: Secrets, redirected: str
) -> None:
    stand_in.server.replies.update({DISCOVERY: discovery_document(stand_in), redirected: redirect(secrets)})
    settings = entra(stand_in, secrets)
    error = failure(settings, secrets)
    assert isinstance(error, BusinessCentralAuthError) and not error.transient
    sent = [f"GET {DISCOVERY}"] if redirected == DISCOVERY else [f"GET {DISCOVERY}", f"POST {TOKEN}"]
    assert error.attempts == 1 and stand_in.server.seen == sent
    assert str(error).startswith(
        f"Entra ID answered the request to {stand_in.server.url}{redirected} with a redirect (HTTP 302) to host "
        "login.elsewhere.example:8443, which is not followed: check extra 'authority' "
        f"({stand_in.server.url}; empty for https://login.microsoftonline.com) and, if a proxy is in between, "
        "extra 'proxies'"
    )


def on_host(place: Place, style: str, secrets: Secrets, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point MSAL at the stand-in's managed identity endpoint of ``style``; the endpoint's path."""
    if style == "app_service":
        monkeypatch.setenv("IDENTITY_ENDPOINT", place.server.url + APP_SERVICE)
        monkeypatch.setenv("IDENTITY_HEADER", secrets.identity_header)
        return APP_SERVICE
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", place.server.url)
    return IMDS


def managed_identity(place: Place) -> ClientSettings:
    return ClientSettings(
        client_id="",
        auth_type="managed_identity",
        tenant_id=TENANT,
        api_host=place.server.url,
        verify=place.bundle,
        **FAST,
    )


@pytest.mark.parametrize("style", ["app_service", "imds"])
def test_a_redirect_from_the_managed_identity_endpoint_says_where_to_and_what_to_check(
    stand_in: Place, secrets: Secrets, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    path = on_host(stand_in, style, secrets, monkeypatch)
    stand_in.server.replies[path] = redirect(secrets)
    error = failure(managed_identity(stand_in), secrets)
    assert isinstance(error, BusinessCentralAuthError) and not error.transient
    assert error.attempts == 1 and stand_in.server.seen == [f"GET {path}"]
    assert str(error).startswith(
        f"The managed identity endpoint answered the request to {stand_in.server.url}{path} with a redirect "
        "(HTTP 302) to host "
        "login.elsewhere.example:8443, which is not followed: check the managed identity endpoint this host "
        "sets (IDENTITY_ENDPOINT, MSI_ENDPOINT, or IMDS at 169.254.169.254) and, if a proxy is in between, "
        "extra 'proxies'"
    )


@pytest.mark.parametrize(
    ("style", "answer", "problem"),
    [
        ("app_service", {"expires_on": "soon"}, "'expires_on' is not a whole number of seconds ('soon')"),
        (
            "app_service",
            {"expires_on": ["1700000000"]},
            "'expires_on' is not a whole number of seconds (['1700000000'])",
        ),
        (
            "app_service",
            {"expires_on": "x" * 40},
            "'expires_on' is not a whole number of seconds (a str of 40 characters)",
        ),
        ("imds", {"expires_in": "an hour"}, "'expires_in' is not a whole number of seconds ('an hour')"),
        ("imds", {"expires_in": None}, "'expires_in' is not a whole number of seconds (None)"),
        ("app_service", {}, "neither 'expires_on' nor 'expires_in'"),
        ("app_service", {"access_token": "", "expires_on": "1700000000"}, "no 'access_token'"),
    ],
)
def test_a_managed_identity_answer_msal_cannot_read_is_a_bad_answer_retried(
    stand_in: Place,
    secrets: Secrets,
    monkeypatch: pytest.MonkeyPatch,
    style: str,
    answer: dict[str, Any],
    problem: str,
) -> None:
    path = on_host(stand_in, style, secrets, monkeypatch)
    body = {"access_token": secrets.token, "token_type": "Bearer", **answer}
    stand_in.server.replies[path] = as_json(200, body)
    error = failure(managed_identity(stand_in), secrets)
    assert isinstance(error, BusinessCentralBadAnswerError) and error.transient
    assert error.attempts == 3 and stand_in.server.seen == [f"GET {path}"] * 3
    url = stand_in.server.url + path
    assert str(error) == (
        f"The managed identity endpoint answered HTTP 200 from {url} with an answer MSAL cannot read: {problem}; "
        f"gave up after 3 attempts (max_retries=2) (status=200, code=managed identity, url={url}, attempts=3)"
    )
