"""Business Central API v2.0 client (sync): entities by id (one or many), lookups, lazy paging, companies."""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from typing_extensions import Unpack

from airflow_provider_bc.client.base import (
    ClientBase,
    EntityOptions,
    FindOptions,
    ReadOptions,
    Step,
    Stepper,
    Steps,
    batch_steps,
    deadline_in,
    first_page_query,
    log_page,
    request_steps,
)
from airflow_provider_bc.client.batch.lookup import BatchLookup, Key
from airflow_provider_bc.client.batch.reads import (
    BatchOptions,
    BatchRead,
    CountsByFilter,
    EntitiesById,
    MatchesByValue,
    Result,
)
from airflow_provider_bc.client.entity_sets import ITEM_LEDGER_ENTRIES
from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.http.exchange import Answer
from airflow_provider_bc.client.http.retry import Retrying
from airflow_provider_bc.client.http.transport import SyncTransport
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.paging import Page, PageCursor
from airflow_provider_bc.client.odata.queries import (
    Query,
    collection_query,
    count_of,
    count_query,
    found_entities,
    lookup_query,
)
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.values import EntitySet, company_option

R = TypeVar("R")


class BusinessCentralClient(ClientBase[SyncTransport]):
    """Reads one Business Central environment with the credentials of ``settings``.

    Every request runs through one retry budget (:mod:`airflow_provider_bc.client.http.retry`):
    throttling, outages, dropped or garbled answers, Entra hiccups and one rejected token; and
    through the principal's :attr:`governor` (:mod:`.governor`), shared with every client of it.
    """

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings, SyncTransport)

    def run(self, query: Query, *, page_size: int | None = None, time_budget: float | None = None) -> dict[str, Any]:
        """Send one GET, retried as :mod:`.http.retry` decides, and return its JSON object.

        ``time_budget``: seconds from now after which no retry wait is started (the request gives up).
        """
        return self._drive(request_steps(self.settings, query, page_size=page_size, deadline=deadline_in(time_budget)))

    def run_batch(self, batch: BatchRead[Result], *, time_budget: float | None = None) -> Result:
        """Send a batch read's ``$batch`` requests and return what it found (``time_budget`` as for
        :meth:`run`, for all its POSTs and the operations asked again)."""
        return self._drive(batch_steps(self.settings, batch, deadline=deadline_in(time_budget)))

    def _drive(self, steps: Steps[R]) -> R:
        stepper = Stepper(steps)
        while (step := stepper.next()) is not None:
            try:
                stepper.answered(self._perform(step))
            except BusinessCentralError as error:
                stepper.failed(error)
        return stepper.result

    def _perform(self, step: Step) -> Answer | None:
        """Send an attempt (a token, then the governor's turn), or wait as a retry decision says."""
        if isinstance(step, Retrying):
            if step.new_token:
                self._tokens.invalidate()
            time.sleep(step.wait)
            return None
        send = step.exchange.attempt(self._transport.send, self._tokens.token())
        return self.governor.send(send, max_pause=self.settings.retry_after_max, operations=step.operations)

    def get(self, lookup: Lookup) -> dict[str, Any]:
        """The entity ``lookup.entity_id`` (``@odata.*`` annotations kept); raises not-found when absent."""
        return self.run(lookup_query(self.urls, lookup, missing_ok=False))

    def get_entity(self, entity_set: str, entity_id: str, **options: Unpack[EntityOptions]) -> dict[str, Any]:
        """One entity by its id (options ``company_id``, ``select``); raises not-found when absent."""
        return self.get(Lookup.build(entity_set, entity_id=entity_id, **options))

    def get_item_ledger_entry(self, entity_id: str, **options: Unpack[EntityOptions]) -> dict[str, Any]:
        """One item ledger entry by its id (options as :meth:`get_entity`)."""
        return self.get_entity(ITEM_LEDGER_ENTRIES, entity_id, **options)

    def get_entities(
        self, entity_set: str, ids: Iterable[str], **options: Unpack[BatchOptions]
    ) -> dict[str, dict[str, Any] | None]:
        """Entities by id in ``$batch`` requests (:mod:`.batch`): each id as given maps to its entity,
        or ``None`` when there is none.

        Options ``company_id``, ``select``, ``batch_size`` (GETs per batch, at most 100). Every id is
        checked before anything is sent (a malformed one raises :class:`BusinessCentralQueryError`
        naming it); each distinct id is read once.
        """
        return self.run_batch(EntitiesById(self.settings, self.urls, entity_set, ids, **options))

    def find_many(
        self, entity_set: str, field: str, values: Iterable[Hashable], **options: Unpack[BatchOptions]
    ) -> dict[Hashable, list[dict[str, Any]]]:
        """The entities whose ``field`` equals each of ``values`` (one ``eq`` GET per distinct value,
        in ``$batch`` requests): each value maps to its matches, ``[]`` for none. Options as
        :meth:`get_entities`."""
        return self.run_batch(MatchesByValue(self.settings, self.urls, entity_set, field, values, **options))

    def read_keys(
        self, lookup: BatchLookup, keys: Iterable[Key], *, time_budget: float | None = None
    ) -> dict[Any, Any]:
        """``keys`` of a set task's ``lookup`` in ``$batch`` requests: by id ``{id: entity or None}``,
        else ``{value: [matches]}`` (``time_budget`` as for :meth:`run_batch`)."""
        return self.run_batch(lookup.batch_read(self.settings, self.urls, keys), time_budget=time_budget)

    def lookup(self, lookup: Lookup, *, time_budget: float | None = None) -> list[dict[str, Any]]:
        """The entity with ``lookup.entity_id``, or up to ``lookup.top`` matching ``lookup.filter``;
        ``[]`` when there is none yet."""
        query = lookup_query(self.urls, lookup)
        return found_entities(self.run(query, time_budget=time_budget), query.context)

    def iter_pages(self, entity_set: str, **options: Unpack[ReadOptions]) -> Iterator[Page]:
        """Pages of a collection, fetched lazily by following ``@odata.nextLink``.

        Options: ``company_id``, ``filter``, ``select``, ``orderby``, ``page_size``,
        ``next_link`` (a page's link) to resume a read where it stopped, ``exact_numbers``
        (decimals as :class:`decimal.Decimal`, keeping the API's number text) and ``decode``: reads
        each page's body instead of ``json.loads`` (e.g. the extraction's ``loads_entity_texts``: the
        entities kept as the text they were sent as).
        """
        cursor = PageCursor(self.urls, first_page_query(self.urls, entity_set, options))
        query: Query | None = cursor.first
        while query is not None:
            page = cursor.page(self.run(query, page_size=options.get("page_size")))
            log_page(page, cursor, entity_set)
            yield page
            del page  # memory stays at one page: the next one is fetched only after this one is let go
            query = cursor.next_query()

    def iter_entities(self, entity_set: str, **options: Unpack[ReadOptions]) -> Iterator[dict[str, Any]]:
        """Every entity of a collection, a page in memory at a time (options as :meth:`iter_pages`)."""
        pages = self.iter_pages(entity_set, **options)
        while (page := next(pages, None)) is not None:
            entities = page.entities
            del page
            yield from entities
            del entities  # let the page go before the next one is fetched

    def find_entities(self, entity_set: str, **options: Unpack[FindOptions]) -> list[dict[str, Any]]:
        """At most ``top`` (default 100) entities matching ``filter``, in one request (no paging)."""
        query = collection_query(
            self.urls,
            EntitySet.of(entity_set),
            company_option(options.get("company_id")),
            filter=options.get("filter"),
            select=options.get("select"),
            orderby=options.get("orderby"),
            top=options.get("top", 100),
        )
        return found_entities(self.run(query), query.context)

    def entity_exists(self, lookup: Lookup) -> bool:
        """Whether the entity ``lookup.entity_id``, or any entity matching ``lookup.filter``, exists."""
        return bool(self.lookup(replace(lookup, select=("id",), top=1)))

    def list_companies(self) -> list[dict[str, Any]]:
        """The companies of the environment (``id``, ``name``, ``displayName``, ...)."""
        query = Query(self.urls.companies(), context="GET companies")
        return found_entities(self.run(query), query.context)

    def count(self, entity_set: str, *, company_id: str | None = None, filter: str | None = None) -> int:
        """How many entities match ``filter`` (``$count``): for progress and estimates, not correctness."""
        query = count_query(self.urls, EntitySet.of(entity_set), company_option(company_id), filter)
        return count_of(self.run(query), query.context)

    def count_many(
        self, entity_set: str, filters: Mapping[Hashable, str], **options: Unpack[BatchOptions]
    ) -> dict[Hashable, int]:
        """How many entities match each of ``filters`` (one ``$count`` GET each, in ``$batch`` requests),
        keyed as ``filters``. Options ``company_id`` and ``batch_size`` as :meth:`get_entities`."""
        return self.run_batch(CountsByFilter(self.settings, self.urls, entity_set, filters, **options))

    def metadata(self) -> str:
        """The service's ``$metadata`` document (EDMX XML): entity types, their properties and sets."""
        return str(self.run(Query(self.urls.metadata(), context="GET $metadata", document=True))["document"])

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()
