"""Sync HTTP: one ``requests`` session per client sending each request once; retries are decided in :mod:`.retry`."""

from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Generic, NamedTuple

import requests

from airflow_provider_bc.client.errors import (
    BusinessCentralConnectionError,
    BusinessCentralError,
    BusinessCentralTLSError,
)
from airflow_provider_bc.client.http.exchange import USER_AGENT, Answer, Sent
from airflow_provider_bc.client.settings import ClientSettings


class PinnedSession(requests.Session):
    """A session for one set of settings; every request is sent once (the adapter retries nothing).

    Its ``verify``, ``proxies`` and timeouts apply to every request (with plain ``requests``,
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace a session's CA bundle and ``HTTPS_PROXY``
    its proxies, and sessions have no timeout), and redirects are never followed (a redirected
    token request would carry the client secret to wherever it points).
    """

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__()
        self.verify = settings.verify
        self.proxies.update(settings.proxies)
        self.headers["User-Agent"] = USER_AGENT
        self._timeout = (settings.connect_timeout, settings.read_timeout)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        if self.proxies and not kwargs.get("proxies"):
            kwargs["proxies"] = dict(self.proxies)
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def _untrusted_certificate(exc: BaseException) -> bool:
    """Whether a certificate check failed somewhere in ``exc``'s chain (also behind urllib3's ``reason``)."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        cause = pending.pop()
        if not isinstance(cause, BaseException) or id(cause) in seen:
            continue
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        seen.add(id(cause))
        pending += [cause.__cause__, cause.__context__, getattr(cause, "reason", None), *cause.args]
    return False


def no_answer(
    url: str, settings: ClientSettings, client_request_id: str | None, exc: Exception
) -> BusinessCentralError:
    """The typed error for a request that got no complete answer: a TLS error when the server's
    certificate was not trusted (not retried), else a connection error (retried)."""
    if _untrusted_certificate(exc):
        return BusinessCentralTLSError(
            f"TLS certificate of {url} was not trusted with verify={settings.verify!r} "
            f"(extra 'verify': true, or the path of the CA bundle to trust): {exc}",
            url=url,
        )
    return BusinessCentralConnectionError(
        f"{url} gave no complete answer (connect_timeout={settings.connect_timeout} s, "
        f"read_timeout={settings.read_timeout} s): {type(exc).__name__}: {exc}",
        code=type(exc).__name__,
        url=url,
        client_request_id=client_request_id,
    )


class Request(NamedTuple):
    """One HTTP request, as :meth:`Transport.send` is given it."""

    method: str
    url: str
    params: Mapping[str, str] | None
    headers: Mapping[str, str]
    body: bytes | None


class Transport(ABC, Generic[Sent]):
    """Sends requests for one set of settings: the sync (:class:`SyncTransport`) and the async
    (:class:`~.async_transport.AsyncTransport`) HTTP client behind one :meth:`send`."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings

    def send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> Sent:
        """One request and its :class:`Answer` (awaitable on the async transport), the body read in full, so
        a body cut off or stalled raises too; no complete answer raises a typed error (:func:`no_answer`)."""
        return self._send(Request(method, url, params, headers, body))

    @abstractmethod
    def _send(self, request: Request) -> Sent:
        """:meth:`send` with this transport's HTTP client."""


class SyncTransport(Transport[Answer]):
    """Sends requests over one :class:`PinnedSession`."""

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings)
        self._session = PinnedSession(settings)
        self._session.headers["Accept"] = "application/json"

    def _send(self, request: Request) -> Answer:
        method, url, params, headers, body = request
        try:
            response = self._session.request(method, url, params=params, headers=headers, data=body)
        except requests.RequestException as exc:
            raise no_answer(url, self._settings, headers.get("client-request-id"), exc) from None
        return Answer(response.status_code, response.headers, response.content)

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()
