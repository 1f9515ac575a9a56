"""Sync HTTP: ``requests`` sessions with the shared retry policy, timeouts and TLS settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_bc.client.errors import BusinessCentralConnectionError
from airflow_provider_bc.client.exchange import USER_AGENT
from airflow_provider_bc.client.retry import retry_policy
from airflow_provider_bc.client.settings import ClientSettings


class PinnedSession(requests.Session):
    """A session for one set of settings (also handed to MSAL for Entra requests).

    Its ``verify`` and timeouts apply to every request: with plain ``requests``, a
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` in the environment silently replaces a
    session's CA bundle, and sessions have no default timeout.
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
        return super().request(method, url, *args, **kwargs)


class SyncTransport:
    """GETs to the API over one pooled session; retries happen inside, per :mod:`.retry`."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._session = PinnedSession(settings)
        self._session.headers["Accept"] = "application/json"

    def get(self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str]) -> requests.Response:
        """Send one GET (after retries, the last answer); no answer at all raises a connection error."""
        try:
            return self._session.get(url, params=params, headers=headers, allow_redirects=False)
        except requests.RequestException as exc:
            raise BusinessCentralConnectionError(
                f"GET {url} got no answer after {self._settings.max_retries} retries: {type(exc).__name__}: {exc}",
                url=url,
                client_request_id=headers.get("client-request-id"),
            ) from None

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()
