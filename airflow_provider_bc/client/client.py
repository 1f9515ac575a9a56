"""Business Central API v2.0 client (sync): entities by id, lazy paging, existence, companies."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_bc.client.auth import TokenProvider
from airflow_provider_bc.client.errors import BusinessCentralNotFoundError
from airflow_provider_bc.client.exchange import REFRESH_TOKEN, Exchange
from airflow_provider_bc.client.queries import (
    Query,
    collection_query,
    entity_query,
    found_entities,
    is_missing_entity,
    lookup_query,
)
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.transport import SyncTransport
from airflow_provider_bc.client.urls import ApiUrls

log = logging.getLogger(__name__)

ITEM_LEDGER_ENTRIES = "itemLedgerEntries"


@dataclass(frozen=True)
class Page:
    """One page of a collection: its entities and the link to the next page (``None`` on the last)."""

    entities: list[dict[str, Any]]
    next_link: str | None
    number: int


class BusinessCentralClient:
    """Reads one Business Central environment with the credentials of ``settings``.

    Tokens come from the process-wide MSAL application of the credential; throttling and
    outages are retried by the transport; a 401 drops the cached token and retries once.
    """

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.urls = ApiUrls(settings)
        self._tokens = TokenProvider(settings)
        self._transport = SyncTransport(settings)

    def get_json(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        page_size: int | None = None,
        context: str | None = None,
    ) -> dict[str, Any]:
        """GET ``url`` (which must be on the API origin) and return its JSON object."""
        exchange = Exchange(self.settings, self.urls, url, params, page_size=page_size, context=context)
        while True:
            response = self._transport.get(exchange.url, exchange.params, exchange.headers(self._tokens.token()))
            outcome = exchange.outcome(response.status_code, response.headers, response.content)
            if outcome is not REFRESH_TOKEN:
                return outcome  # type: ignore[return-value]
            log.warning("Business Central answered 401 to %s; fetching a new token and retrying once", url)
            self._tokens.invalidate()

    def run(self, query: Query, *, page_size: int | None = None) -> dict[str, Any]:
        """Send a prepared :class:`Query` and return its JSON object."""
        return self.get_json(query.url, query.params, page_size=page_size, context=query.context)

    def get_entity(
        self,
        entity_set: str,
        entity_id: object,
        *,
        company_id: str | None = None,
        select: Iterable[str] | str | None = None,
    ) -> dict[str, Any]:
        """One entity by its id (``@odata.*`` annotations kept); raises not-found when absent."""
        return self.run(entity_query(self.urls, entity_set, entity_id, company_id, select))

    def get_item_ledger_entry(
        self, entry_id: object, *, company_id: str | None = None, select: Iterable[str] | str | None = None
    ) -> dict[str, Any]:
        """One item ledger entry by its id."""
        return self.get_entity(ITEM_LEDGER_ENTRIES, entry_id, company_id=company_id, select=select)

    def iter_pages(
        self,
        entity_set: str,
        *,
        company_id: str | None = None,
        filter: str | None = None,
        select: Iterable[str] | str | None = None,
        orderby: Iterable[str] | str | None = None,
        page_size: int | None = None,
        next_link: str | None = None,
    ) -> Iterator[Page]:
        """Pages of a collection, fetched lazily by following ``@odata.nextLink``.

        Pass a page's ``next_link`` back as ``next_link`` to resume a read where it stopped.
        """
        query = collection_query(self.urls, entity_set, company_id, filter=filter, select=select, orderby=orderby)
        url: str | None = next_link or query.url
        params: dict[str, str] | None = None if next_link else query.params
        number, seen = 0, 0
        while url:
            payload = self.get_json(url, params, page_size=page_size, context=f"{query.context} (page {number + 1})")
            number += 1
            entities = payload.get("value", [])
            seen += len(entities)
            url, params = payload.get("@odata.nextLink"), None
            log.info("Read page %d of %s: %d entities (%d so far)", number, entity_set, len(entities), seen)
            yield Page(entities, url, number)

    def iter_entities(
        self,
        entity_set: str,
        *,
        company_id: str | None = None,
        filter: str | None = None,
        select: Iterable[str] | str | None = None,
        orderby: Iterable[str] | str | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every entity of a collection, a page in memory at a time."""
        for page in self.iter_pages(
            entity_set,
            company_id=company_id,
            filter=filter,
            select=select,
            orderby=orderby,
            page_size=page_size,
        ):
            yield from page.entities

    def find_entities(
        self,
        entity_set: str,
        *,
        company_id: str | None = None,
        filter: str | None = None,
        select: Iterable[str] | str | None = None,
        orderby: Iterable[str] | str | None = None,
        top: int = 100,
    ) -> list[dict[str, Any]]:
        """At most ``top`` entities matching ``filter`` (one request, no paging)."""
        query = collection_query(
            self.urls, entity_set, company_id, filter=filter, select=select, orderby=orderby, top=top
        )
        return found_entities(self.run(query))

    def lookup(
        self,
        entity_set: str,
        *,
        entity_id: object = None,
        filter: str | None = None,
        company_id: str | None = None,
        select: Iterable[str] | str | None = None,
        top: int = 1,
    ) -> list[dict[str, Any]]:
        """The entity with ``entity_id`` or up to ``top`` matching ``filter``; ``[]`` when there is none yet."""
        query = lookup_query(
            self.urls,
            entity_set,
            entity_id=entity_id,
            filter=filter,
            company_id=company_id,
            select=select,
            top=top,
        )
        try:
            return found_entities(self.run(query))
        except BusinessCentralNotFoundError as error:
            if is_missing_entity(error):
                return []
            raise

    def entity_exists(
        self,
        entity_set: str,
        entity_id: object = None,
        *,
        company_id: str | None = None,
        filter: str | None = None,
    ) -> bool:
        """Whether an entity with ``entity_id``, or any entity matching ``filter``, exists."""
        return bool(self.lookup(entity_set, entity_id=entity_id, filter=filter, company_id=company_id, select="id"))

    def list_companies(self) -> list[dict[str, Any]]:
        """The companies of the environment (``id``, ``name``, ``displayName``, ...)."""
        return found_entities(self.run(Query(self.urls.companies(), context="GET companies")))

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()
