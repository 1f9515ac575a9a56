"""Sync HTTP: ``requests`` sessions with the shared retry policy, timeouts and TLS settings."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_bc.client.errors import BusinessCentralConnectionError, BusinessCentralTLSError
from airflow_provider_bc.client.exchange import USER_AGENT
from airflow_provider_bc.client.retry import after_dropped_read, retry_policy
from airflow_provider_bc.client.settings import ClientSettings


class PinnedSession(requests.Session):
    """A session for one set of settings (also handed to MSAL for Entra requests).

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
        self.mount("https://", HTTPAdapter(max_retries=retry_policy(settings), pool_maxsize=10))

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        if self.proxies and not kwargs.get("proxies"):
            kwargs["proxies"] = dict(self.proxies)
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def tls_error(url: str, settings: ClientSettings, reason: object) -> BusinessCentralTLSError:
    """The error for a server certificate that the configured ``verify`` does not trust."""
    return BusinessCentralTLSError(
        f"TLS certificate of {url} was not trusted with verify={settings.verify!r} "
        f"(extra 'verify': true, or the path of the CA bundle to trust): {reason}",
        url=url,
    )


class SyncTransport:
    """GETs to the API over one pooled session; retries happen inside, per :mod:`.retry`."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._session = PinnedSession(settings)
        self._session.headers["Accept"] = "application/json"

    def get(self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str]) -> requests.Response:
        """Send one GET (after retries, the last answer); no answer at all raises a connection error."""
        retry = retry_policy(self._settings)  # for bodies cut off mid-way, which urllib3 does not see
        while True:
            try:
                return self._session.get(url, params=params, headers=headers)
            except requests.exceptions.SSLError as exc:
                raise tls_error(url, self._settings, exc) from None
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
                next_retry = after_dropped_read(retry, url, exc)
                if next_retry is None:
                    raise self._no_answer(url, headers, exc) from None
                retry = next_retry
                time.sleep(retry.wait_for())
            except requests.RequestException as exc:
                raise self._no_answer(url, headers, exc) from None

    def _no_answer(self, url: str, headers: Mapping[str, str], exc: Exception) -> BusinessCentralConnectionError:
        return BusinessCentralConnectionError(
            f"GET {url} got no complete answer (retries included): {type(exc).__name__}: {exc}",
            url=url,
            client_request_id=headers.get("client-request-id"),
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()
