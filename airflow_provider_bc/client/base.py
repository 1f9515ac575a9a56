"""What the sync and async clients share: their parts, their options, and the steps of a request
and of a ``$batch`` read, written once without I/O.

A step function is a generator: it yields the I/O it needs next, a :class:`Send` (one attempt of an
exchange, with a token, through the principal's governor) or a :class:`~.http.retry.Retrying` pause,
and is sent the answer or thrown the typed error the I/O raised. :class:`Stepper` feeds it; each
client only performs the steps (``time.sleep`` or ``asyncio.sleep``, a thread or not for MSAL).
Every decision (retry, wait, new token, deadline, batch rounds) is made here and in what it calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypedDict, TypeVar

from airflow_provider_bc.client.auth.tokens import TokenProvider
from airflow_provider_bc.client.batch.reads import BatchRead
from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.http.exchange import Answer, Exchange
from airflow_provider_bc.client.http.governor import Governor, governor_for
from airflow_provider_bc.client.http.retry import Attempts, Retrying
from airflow_provider_bc.client.http.transport import Transport
from airflow_provider_bc.client.odata.paging import Page, PageCursor
from airflow_provider_bc.client.odata.queries import Query, collection_query
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.values import EntitySet, company_option

log = logging.getLogger(__name__)

T = TypeVar("T", bound=Transport[Any])
R = TypeVar("R")


class EntityOptions(TypedDict, total=False):
    """Keyword options of a read by id (:meth:`BusinessCentralClient.get_entity`)."""

    company_id: str | None
    select: Iterable[str] | str | None


class FindOptions(TypedDict, total=False):
    """Keyword options of a one-request read (:meth:`BusinessCentralClient.find_entities`)."""

    company_id: str | None
    filter: str | None
    select: Iterable[str] | str | None
    orderby: Iterable[str] | str | None
    top: int


class ReadOptions(TypedDict, total=False):
    """Keyword options of a collection read (:meth:`BusinessCentralClient.iter_pages`)."""

    company_id: str | None
    filter: str | None
    select: Iterable[str] | str | None
    orderby: Iterable[str] | str | None
    page_size: int | None
    next_link: str | None
    exact_numbers: bool
    decode: Callable[[bytes], Any] | None


def first_page_query(urls: ApiUrls, entity_set: str, options: ReadOptions) -> Query:
    """The GET of a read's first page: the collection with its options, or a page's ``next_link`` to resume."""
    query = collection_query(
        urls,
        EntitySet.of(entity_set),
        company_option(options.get("company_id")),
        filter=options.get("filter"),
        select=options.get("select"),
        orderby=options.get("orderby"),
        exact_numbers=options.get("exact_numbers", False),
        decode=options.get("decode"),
    )
    next_link = options.get("next_link")
    return replace(query, url=urls.next_link(next_link), params={}) if next_link else query


def log_page(page: Page, cursor: PageCursor, entity_set: str) -> None:
    """One line per page read, with the running count."""
    log.info(
        "Read page %d of %s: %d entities (%d so far)", page.number, entity_set, len(page.entities), cursor.entities
    )


def deadline_in(time_budget: float | None) -> float | None:
    """The ``time.monotonic()`` instant ``time_budget`` seconds from now (``None``: no deadline)."""
    return None if time_budget is None else time.monotonic() + time_budget


@dataclass(frozen=True)
class Send:
    """Send one attempt of ``exchange`` with a token, through the governor (``operations`` it counts as)."""

    exchange: Exchange
    operations: int


Step = Send | Retrying
Steps = Generator[Step, Any, R]


def request_steps(
    settings: ClientSettings, query: Query, *, page_size: int | None = None, deadline: float | None = None
) -> Steps[dict[str, Any]]:
    """One request: attempts as :class:`~.http.retry.Attempts` decides; returns the answer's JSON object."""
    exchange = Exchange(settings, query, page_size=page_size)
    attempts = Attempts(settings, f"{exchange.method} {query.url}", deadline=deadline)
    while True:
        try:
            answer: Answer = yield Send(exchange, query.operations)
            return exchange.read(answer)
        except BusinessCentralError as error:
            retrying = attempts.after(error)
        yield retrying


def batch_steps(settings: ClientSettings, batch: BatchRead[R], *, deadline: float | None = None) -> Steps[R]:
    """A batch read's ``$batch`` requests, each one :func:`request_steps`, with the waits between rounds;
    no wait or operation asked again runs past ``deadline``. Returns what the read found."""
    if deadline is not None:
        batch.end_by(deadline)
    while (query := batch.next_request()) is not None:
        payload = yield from request_steps(settings, query, deadline=deadline)
        if (retrying := batch.read(payload)) is not None:
            yield retrying
    return batch.result()


class Stepper(Generic[R]):
    """Runs steps: hands each its reply (the I/O's result, or the typed error it raised) and keeps
    the result once they end."""

    def __init__(self, steps: Steps[R]) -> None:
        self._steps = steps
        self._reply: Any = None
        self._error: BusinessCentralError | None = None
        self.result: R

    def next(self) -> Step | None:
        """The next step to perform, or ``None`` once done (:attr:`result` set)."""
        error, self._error = self._error, None
        try:
            return self._steps.send(self._reply) if error is None else self._steps.throw(error)
        except StopIteration as done:
            self.result = done.value
            return None

    def answered(self, reply: Any) -> None:
        """The last step's result."""
        self._reply = reply

    def failed(self, error: BusinessCentralError) -> None:
        """The last step's I/O raised ``error``."""
        self._error = error


class ClientBase(Generic[T]):
    """What the sync and the async client hold: the settings, their URLs, the principal's
    :attr:`governor`, tokens and a transport (made by ``transport``)."""

    def __init__(self, settings: ClientSettings, transport: Callable[[ClientSettings], T]) -> None:
        self.settings = settings
        self.urls = ApiUrls(settings)
        self.governor: Governor = governor_for(settings)
        self._tokens = TokenProvider(settings)
        self._transport = transport(settings)
