"""Async HTTP for triggers: ``httpx`` with the same urllib3 retry decisions as the sync path."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

from urllib3.exceptions import MaxRetryError

from airflow_provider_bc.client.errors import BusinessCentralConnectionError
from airflow_provider_bc.client.exchange import USER_AGENT
from airflow_provider_bc.client.retry import BusinessCentralRetry, after_dropped_read, retry_policy
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.transport import tls_error

if TYPE_CHECKING:
    import httpx


class _AnswerView:
    """The two things urllib3's ``Retry`` reads from an answer, taken from an httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers

    def get_redirect_location(self) -> bool:
        return False


def _is_tls_failure(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


class AsyncTransport:
    """GETs over one ``httpx.AsyncClient``; close it with :meth:`aclose` (or ``async with``)."""

    def __init__(self, settings: ClientSettings) -> None:
        import httpx

        self._settings = settings
        self._retry = retry_policy(settings)
        self._client = httpx.AsyncClient(
            verify=_ssl_context(settings.verify),
            proxy=settings.proxies.get("https"),
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    async def get(self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str]) -> httpx.Response:
        """Send one GET, retrying as the sync path would; no answer at all raises a connection error."""
        import httpx

        retry: BusinessCentralRetry = self._retry
        while True:
            try:
                response = await self._client.get(url, params=params, headers=headers)
            except httpx.TransportError as exc:
                if _is_tls_failure(exc):
                    raise tls_error(url, self._settings, exc) from None
                next_retry = after_dropped_read(retry, url, exc)
                if next_retry is None:
                    raise BusinessCentralConnectionError(
                        f"GET {url} got no complete answer (retries included): {type(exc).__name__}: {exc}",
                        url=url,
                        client_request_id=headers.get("client-request-id"),
                    ) from None
                retry = next_retry
                await asyncio.sleep(retry.wait_for())
                continue
            if not retry.is_retry("GET", response.status_code, "Retry-After" in response.headers):
                return response
            answer = _AnswerView(response)
            try:
                retry = retry.increment("GET", url, response=answer)  # type: ignore[arg-type]
            except MaxRetryError:
                return response
            await asyncio.sleep(retry.wait_for(answer))

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
