"""Async HTTP for triggers: ``httpx`` sending each request once; retries are decided in :mod:`.retry`."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable

from airflow_provider_bc.client.http.exchange import USER_AGENT, Answer
from airflow_provider_bc.client.http.transport import Request, Transport, no_answer
from airflow_provider_bc.client.settings import ClientSettings


def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


class AsyncTransport(Transport[Awaitable[Answer]]):
    """Sends requests over one ``httpx.AsyncClient``; close it with :meth:`aclose`."""

    def __init__(self, settings: ClientSettings) -> None:
        import httpx

        super().__init__(settings)
        self._client = httpx.AsyncClient(
            verify=_ssl_context(settings.verify),
            proxy=settings.proxies.get("https"),
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    async def _send(self, request: Request) -> Answer:
        import httpx

        method, url, params, headers, body = request
        try:
            response = await self._client.request(method, url, params=params, headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise no_answer(url, self._settings, headers.get("client-request-id"), exc) from None
        return Answer(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
