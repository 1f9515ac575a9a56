"""Business Central client (async) for triggers: lookups over httpx, MSAL kept off the event loop."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any

from airflow_provider_bc.client.auth import TokenProvider
from airflow_provider_bc.client.exchange import REFRESH_TOKEN, Exchange
from airflow_provider_bc.client.queries import Query, found_entities, lookup_query
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.urls import ApiUrls

log = logging.getLogger(__name__)


class AsyncBusinessCentralClient:
    """Async twin of :class:`~airflow_provider_bc.client.client.BusinessCentralClient` for lookups.

    Use as ``async with AsyncBusinessCentralClient(settings) as client: ...``.
    """

    def __init__(self, settings: ClientSettings) -> None:
        from airflow_provider_bc.client.async_transport import AsyncTransport

        self.settings = settings
        self.urls = ApiUrls(settings)
        self._tokens = TokenProvider(settings)
        self._transport = AsyncTransport(settings)

    async def __aenter__(self) -> AsyncBusinessCentralClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._transport.aclose()

    async def run(self, query: Query) -> dict[str, Any]:
        """Send a prepared :class:`Query` and return its JSON object."""
        exchange = Exchange(self.settings, self.urls, query)
        while True:
            # MSAL is sync (and may do HTTP): keep it off the event loop.
            token = await asyncio.to_thread(self._tokens.token)
            response = await self._transport.get(exchange.url, exchange.params, exchange.headers(token))
            outcome = exchange.outcome(response.status_code, response.headers, response.content)
            if outcome is not REFRESH_TOKEN:
                return outcome  # type: ignore[return-value]
            log.warning("Business Central answered 401 to %s; fetching a new token and retrying once", query.url)
            await asyncio.to_thread(self._tokens.invalidate)

    async def lookup(self, entity_set: str, **options: Any) -> list[dict[str, Any]]:
        """As ``BusinessCentralClient.lookup``: the entity or matches, ``[]`` when there is none yet."""
        return found_entities(await self.run(lookup_query(self.urls, entity_set, **options)))
