"""Sync HTTP: a ``requests`` session with the shared retry policy, timeouts and TLS settings."""

from __future__ import annotations

from collections.abc import Mapping

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_bc.client.errors import BusinessCentralConnectionError
from airflow_provider_bc.client.exchange import USER_AGENT
from airflow_provider_bc.client.retry import retry_policy
from airflow_provider_bc.client.settings import ClientSettings


class SyncTransport:
    """GETs over one pooled ``requests.Session``; retries happen inside, per :mod:`.retry`."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._session = requests.Session()
        self._session.mount("https://", HTTPAdapter(max_retries=retry_policy(settings), pool_maxsize=10))
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._session.proxies.update(settings.proxies)

    def get(self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str]) -> requests.Response:
        """Send one GET (after retries, the last answer); no answer at all raises a connection error."""
        try:
            return self._session.get(
                url,
                params=params,
                headers=headers,
                timeout=(self._settings.connect_timeout, self._settings.read_timeout),
                # per request, so that REQUESTS_CA_BUNDLE cannot override an explicit CA bundle
                verify=self._settings.verify,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise BusinessCentralConnectionError(
                f"GET {url} got no answer after {self._settings.max_retries} retries: {type(exc).__name__}: {exc}",
                url=url,
                client_request_id=headers.get("client-request-id"),
            ) from None

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()
