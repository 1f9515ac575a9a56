"""The two transports on real sockets: what one GET sends and returns, and how a missing answer is typed.

A small local HTTP server plays Business Central (and a forward proxy) where the emulator has no
such fault (a redirect to itself, a connect that never completes, a proxy); the emulator is the
HTTPS server for the certificate checks. The transport tests run on the sync (requests) and the
async (httpx) transport; then ``PinnedSession`` (requests' API with our defaults) and the exception
chains that count as an untrusted certificate. Waits are kept short through the settings' timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import trustme
import urllib3

from airflow_provider_bc.client.errors import (
    BusinessCentralConnectionError,
    BusinessCentralError,
    BusinessCentralTLSError,
)
from airflow_provider_bc.client.http.async_transport import AsyncTransport
from airflow_provider_bc.client.http.exchange import USER_AGENT, Answer
from airflow_provider_bc.client.http.transport import PinnedSession, SyncTransport, no_answer
from airflow_provider_bc.client.settings import ClientSettings
from tests.faults.conftest import emulator_settings

STALL = 2.0  # seconds the local server waits before answering /stall (beyond every read_timeout used here)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _LocalServer

    def do_GET(self) -> None:
        self.server.seen.append({"path": self.path, "headers": self.headers})  # names case-insensitive
        route = urlsplit(self.path).path
        if route == "/stall":
            time.sleep(STALL)
        if route == "/redirect":
            self._reply(302, b"", location="/landed")
        elif route == "/cut":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"value": [')
            self.wfile.flush()
            self.close_connection = True
        else:
            self._reply(200, json.dumps({"path": self.path}).encode())

    def _reply(self, status: int, body: bytes, location: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; odata.metadata=minimal")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", "local-1")
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def finish(self) -> None:
        super().finish()
        self.server.disconnected.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _LocalServer(ThreadingHTTPServer):
    """Plain HTTP on a loopback port, recording every request (path as sent, headers)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict[str, Any]] = []
        self.disconnected = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def local() -> Iterator[_LocalServer]:
    server = _LocalServer()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:  # nobody listens on it once this block ends
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops further SYNs, so a connect never completes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # the connect goes on in the kernel
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


class Transport:
    """The sync or the async transport behind one blocking ``get``."""

    def __init__(self, path: str, settings: ClientSettings) -> None:
        self.path = path
        self._loop = asyncio.new_event_loop()
        self._transport: SyncTransport | AsyncTransport = (
            SyncTransport(settings) if path == "sync" else self._run(self._make_async(settings))
        )

    @staticmethod
    async def _make_async(settings: ClientSettings) -> AsyncTransport:
        return AsyncTransport(settings)

    def _run(self, coroutine: Any) -> Any:
        return self._loop.run_until_complete(coroutine)

    def get(
        self, url: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> Answer:
        headers = headers if headers is not None else {"client-request-id": "ours-1"}
        if isinstance(self._transport, SyncTransport):
            return self._transport.send("GET", url, params, headers)
        return self._run(self._transport.send("GET", url, params, headers))  # type: ignore[no-any-return]

    def close(self) -> None:
        if isinstance(self._transport, SyncTransport):
            self._transport.close()
        else:
            self._run(self._transport.aclose())

    def dispose(self) -> None:
        self.close()
        self._loop.close()


@pytest.fixture
def transport_for(path: str, bc_emulator: Any) -> Iterator[Any]:
    """Build a :class:`Transport` on ``path`` with the emulator's settings and ``overrides``."""
    made: list[Transport] = []

    def make(**overrides: Any) -> Transport:
        transport = Transport(path, emulator_settings(bc_emulator, **overrides))
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.dispose()


def test_a_get_sends_our_headers_and_parameters_and_returns_the_whole_answer(
    transport_for: Any, local: _LocalServer
) -> None:
    params = {"$filter": "description eq 'a&b #1'", "$top": "5"}
    answer = transport_for().get(f"{local.url}/items", params, {"client-request-id": "ours-1", "Prefer": "x=1"})
    (sent,) = local.seen
    assert urlsplit(sent["path"]).path == "/items"
    assert dict(parse_qsl(urlsplit(sent["path"]).query)) == params
    assert sent["headers"]["User-Agent"] == USER_AGENT
    assert sent["headers"]["Accept"].lower() == "application/json"  # media types are case-insensitive
    assert sent["headers"]["client-request-id"] == "ours-1"
    assert sent["headers"]["Prefer"] == "x=1"
    assert answer.status == 200
    assert answer.headers["Request-Id"] == "local-1"
    assert answer.headers["content-type"] == "application/json; odata.metadata=minimal"
    assert json.loads(answer.body) == {"path": sent["path"]}


def test_without_parameters_nothing_is_added_to_the_url(transport_for: Any, local: _LocalServer) -> None:
    transport_for().get(f"{local.url}/items?$skiptoken=a1", None)
    assert [sent["path"] for sent in local.seen] == ["/items?$skiptoken=a1"]


def test_a_redirect_is_returned_as_an_answer_not_followed(transport_for: Any, local: _LocalServer) -> None:
    answer = transport_for().get(f"{local.url}/redirect")
    assert answer.status == 302
    assert answer.headers["Location"] == "/landed"
    assert [sent["path"] for sent in local.seen] == ["/redirect"]


def test_no_answer_within_the_read_timeout_is_a_connection_error(transport_for: Any, local: _LocalServer) -> None:
    url = f"{local.url}/stall"
    with pytest.raises(BusinessCentralConnectionError) as caught:
        transport_for(read_timeout=0.5, connect_timeout=3.0).get(url, None, {"client-request-id": "ours-7"})
    error = caught.value
    assert error.code == "ReadTimeout"
    assert error.message.startswith(
        f"{url} gave no complete answer (connect_timeout=3.0 s, read_timeout=0.5 s): ReadTimeout: "
    )
    assert error.url == url
    assert error.client_request_id == "ours-7"
    assert error.status is None
    assert error.transient


def test_a_body_cut_off_is_a_connection_error(transport_for: Any, local: _LocalServer) -> None:
    url = f"{local.url}/cut"
    with pytest.raises(BusinessCentralConnectionError) as caught:
        transport_for().get(url)
    assert caught.value.url == url
    assert caught.value.client_request_id == "ours-1"
    assert " gave no complete answer " in caught.value.message


def test_a_refused_connection_is_a_connection_error(path: str, transport_for: Any, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/items"
    with pytest.raises(BusinessCentralConnectionError) as caught:
        transport_for().get(url)
    assert caught.value.code == ("ConnectionError" if path == "sync" else "ConnectError")
    assert caught.value.url == url


def test_a_connect_that_never_completes_ends_at_the_connect_timeout(transport_for: Any, unaccepting_port: int) -> None:
    url = f"http://127.0.0.1:{unaccepting_port}/items"
    with pytest.raises(BusinessCentralConnectionError) as caught:
        transport_for(connect_timeout=0.3, read_timeout=600.0).get(url)
    assert caught.value.code == "ConnectTimeout"  # not the kernel giving up on the SYNs minutes later
    assert "(connect_timeout=0.3 s, read_timeout=600.0 s): ConnectTimeout: " in caught.value.message


def test_the_settings_proxy_is_used_whatever_the_environment_says(
    transport_for: Any, local: _LocalServer, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{closed_port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    # requests picks the proxy by the URL's scheme; httpx is given the "https" one for every request
    answer = transport_for(proxies={"http": local.url, "https": local.url}).get("http://bc.invalid/v2.0/items")
    assert answer.status == 200
    assert [sent["path"] for sent in local.seen] == ["http://bc.invalid/v2.0/items"]


def test_close_lets_the_connection_go(transport_for: Any, local: _LocalServer) -> None:
    transport = transport_for()
    transport.get(f"{local.url}/items")
    assert not local.disconnected.is_set()  # kept alive for the next request
    transport.close()
    assert local.disconnected.wait(10)


# --- PinnedSession (also the session MSAL sends Entra requests through): requests' API, our defaults ---------


@pytest.fixture
def session_for(bc_emulator: Any) -> Iterator[Any]:
    made: list[PinnedSession] = []

    def make(**overrides: Any) -> PinnedSession:
        session = PinnedSession(emulator_settings(bc_emulator, **overrides))
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


def test_a_request_s_own_timeout_verify_and_proxies_win_over_the_settings(
    session_for: Any, local: _LocalServer, closed_port: int, bc_emulator: Any
) -> None:
    slow = session_for(read_timeout=0.5)
    assert slow.get(f"{local.url}/stall", timeout=STALL * 5).status_code == 200
    with pytest.raises(requests.exceptions.ReadTimeout):
        slow.get(f"{local.url}/stall")
    unverified = session_for(verify=True)  # the system CAs do not know the emulator's CA
    assert unverified.get(f"{bc_emulator.api_url()}/companies", verify=bc_emulator.ca_bundle).status_code == 401
    proxied = session_for(proxies={"http": f"http://127.0.0.1:{closed_port}"})
    assert proxied.get("http://bc.invalid/x", proxies={"http": local.url}).status_code == 200
    assert [sent["path"] for sent in local.seen] == ["/stall", "/stall", "http://bc.invalid/x"]


def test_a_session_keeps_requests_signature(session_for: Any, local: _LocalServer) -> None:
    response = session_for().request("GET", f"{local.url}/items", {"$top": "1"})  # params, given by position
    assert response.status_code == 200
    assert [sent["path"] for sent in local.seen] == ["/items?%24top=1"]


def test_a_session_follows_no_redirect_even_when_asked_to(session_for: Any, local: _LocalServer) -> None:
    response = session_for().get(f"{local.url}/redirect", allow_redirects=True)
    assert response.status_code == 302
    assert [sent["path"] for sent in local.seen] == ["/redirect"]


# --- certificates: the emulator's HTTPS ------------------------------------------------------------


def api_get(transport: Transport, emulator: Any) -> Answer:
    token = emulator.token()
    return transport.get(f"{emulator.api_url()}/companies", None, {"Authorization": f"Bearer {token}"})


def test_the_ca_bundle_of_the_settings_is_trusted(transport_for: Any, bc_emulator: Any) -> None:
    answer = api_get(transport_for(verify=bc_emulator.ca_bundle), bc_emulator)
    assert answer.status == 200
    assert [c["id"] for c in json.loads(answer.body)["value"]] == [c["id"] for c in bc_emulator.companies]


def test_a_ca_bundle_from_the_environment_does_not_replace_the_settings_one(
    transport_for: Any, bc_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(tmp_path / "no-such-bundle.pem"))
    assert api_get(transport_for(verify=bc_emulator.ca_bundle), bc_emulator).status == 200


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_accepts_any_certificate(transport_for: Any, bc_emulator: Any) -> None:
    assert api_get(transport_for(verify=False), bc_emulator).status == 200


@pytest.mark.parametrize("verify", ["system", "other-ca"])
def test_an_untrusted_certificate_is_a_tls_error(
    verify: str, transport_for: Any, bc_emulator: Any, tmp_path: Path
) -> None:
    if verify == "system":
        setting: bool | str = True  # the system CAs do not know the emulator's CA
    else:
        setting = str(tmp_path / "other-ca.pem")
        trustme.CA().cert_pem.write_to_path(setting)
    url = f"{bc_emulator.api_url()}/companies"
    with pytest.raises(BusinessCentralTLSError) as caught:
        transport_for(verify=setting).get(url)
    error = caught.value
    assert error.url == url
    assert error.message.startswith(
        f"TLS certificate of {url} was not trusted with verify={setting!r} "
        "(extra 'verify': true, or the path of the CA bundle to trust): "
    )
    assert not error.transient
    assert bc_emulator.stats()["total_requests"] == 0


# --- which failures count as an untrusted certificate (the exception chains the libraries raise) --------


def _settings() -> ClientSettings:
    return ClientSettings(client_id="app", client_secret="not-a-real-secret", tenant_id="contoso.onmicrosoft.com")


def _cert_error() -> ssl.SSLCertVerificationError:
    return ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")


def _raised_from(outer: type[Exception], inner: BaseException, *, implicit: bool) -> Exception:
    """``outer`` raised while handling ``inner``: chained as its ``__context__`` or, explicitly, its ``__cause__``."""
    try:
        try:
            raise inner
        except BaseException as exc:
            if implicit:
                raise outer("wrapped")  # noqa: B904
            raise outer("wrapped") from exc
    except Exception as wrapped:
        assert (wrapped.__cause__ is None) is implicit
        return wrapped
    raise AssertionError("unreachable")


def _with_reason(reason: BaseException) -> Exception:
    error = urllib3.exceptions.MaxRetryError(None, "/", reason)  # type: ignore[arg-type]
    return requests.exceptions.SSLError(error)


def _beside_another_error() -> Exception:
    """The certificate error is the ``__cause__``, next to an argument that is an exception with its own args."""
    error = requests.exceptions.ConnectionError(ValueError("a nested error", 1))
    error.__cause__ = _cert_error()
    return error


def _cycle() -> Exception:
    first, second = requests.exceptions.ConnectionError("first"), requests.exceptions.ConnectionError("second")
    first.__context__, second.__context__ = second, first
    first.args = (*first.args, first, "text", 7)
    return first


CHAINS: dict[str, tuple[Any, type[BusinessCentralError]]] = {
    "the-error-itself": (_cert_error, BusinessCentralTLSError),
    "as-cause": (
        lambda: _raised_from(requests.exceptions.SSLError, _cert_error(), implicit=False),
        BusinessCentralTLSError,
    ),
    "as-context": (
        lambda: _raised_from(requests.exceptions.SSLError, _cert_error(), implicit=True),
        BusinessCentralTLSError,
    ),
    "as-reason": (lambda: _with_reason(urllib3.exceptions.SSLError(_cert_error())), BusinessCentralTLSError),
    "beside-another-error": (_beside_another_error, BusinessCentralTLSError),
    "in-args-before-text": (
        lambda: requests.exceptions.ConnectionError(_cert_error(), "text"),
        BusinessCentralTLSError,
    ),
    "in-args": (lambda: requests.exceptions.ConnectionError("x", _cert_error()), BusinessCentralTLSError),
    "another-tls-failure": (lambda: _with_reason(ssl.SSLError(1, "handshake failure")), BusinessCentralConnectionError),
    "a-reset": (
        lambda: requests.exceptions.ConnectionError(ConnectionResetError(104, "reset")),
        BusinessCentralConnectionError,
    ),
    "a-cycle": (_cycle, BusinessCentralConnectionError),
}


@pytest.mark.parametrize("chain", CHAINS.values(), ids=CHAINS.keys())
def test_only_a_failed_certificate_check_anywhere_in_the_chain_is_a_tls_error(
    chain: tuple[Any, type[BusinessCentralError]],
) -> None:
    make, kind = chain
    error = no_answer("https://bc.example.com/x", _settings(), "ours-1", make())
    assert type(error) is kind
    assert error.url == "https://bc.example.com/x"
