"""Business Central API v2.0 client (sync): entities by id, lazy paging, existence, companies."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypedDict

from typing_extensions import Unpack

from airflow_provider_bc.client.auth import TokenProvider
from airflow_provider_bc.client.exchange import REFRESH_TOKEN, Exchange
from airflow_provider_bc.client.queries import (
    ITEM_LEDGER_ENTRIES,
    Query,
    collection_query,
    entity_query,
    found_entities,
    lookup_query,
)
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.transport import SyncTransport
from airflow_provider_bc.client.urls import ApiUrls

log = logging.getLogger(__name__)


class ReadOptions(TypedDict, total=False):
    """Keyword options of a collection read (:meth:`BusinessCentralClient.iter_pages`)."""

    company_id: str | None
    filter: str | None
    select: Iterable[str] | str | None
    orderby: Iterable[str] | str | None
    page_size: int | None
    next_link: str | None


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

    def run(self, query: Query, *, page_size: int | None = None) -> dict[str, Any]:
        """Send one GET (its URL must be on the API origin) and return its JSON object."""
        exchange = Exchange(self.settings, self.urls, query, page_size=page_size)
        while True:
            response = self._transport.get(exchange.url, exchange.params, exchange.headers(self._tokens.token()))
            outcome = exchange.outcome(response.status_code, response.headers, response.content)
            if outcome is not REFRESH_TOKEN:
                return outcome  # type: ignore[return-value]
            log.warning("Business Central answered 401 to %s; fetching a new token and retrying once", query.url)
            self._tokens.invalidate()

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
        if next_link:
            query = Query(next_link, context=query.context)
        number, seen = 0, 0
        while True:
            payload = self.run(replace(query, context=f"{query.context} (page {number + 1})"), page_size=page_size)
            number += 1
            url = payload.get("@odata.nextLink")
            page = Page(payload.get("value", []), url, number)
            del payload
            seen += len(page.entities)
            log.info("Read page %d of %s: %d entities (%d so far)", number, entity_set, len(page.entities), seen)
            yield page
            del page  # memory stays at one page: the next one is fetched only after this one is let go
            if not url:
                return
            query = Query(url, context=query.context)

    def iter_entities(self, entity_set: str, **options: Unpack[ReadOptions]) -> Iterator[dict[str, Any]]:
        """Every entity of a collection, a page in memory at a time (options as :meth:`iter_pages`)."""
        pages = self.iter_pages(entity_set, **options)
        while (page := next(pages, None)) is not None:
            entities = page.entities
            del page
            yield from entities
            del entities  # let the page go before the next one is fetched

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

    def lookup(self, entity_set: str, **options: Any) -> list[dict[str, Any]]:
        """The entity with ``entity_id``, or up to ``top`` (default 1) matching ``filter``; ``[]``
        when there is none yet. Options: ``entity_id``, ``filter``, ``company_id``, ``select``, ``top``."""
        return found_entities(self.run(lookup_query(self.urls, entity_set, **options)))

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
