"""One GET of a ``$batch`` read (:class:`Operation`): its entry in a ``$batch``, and its inner answer read
as that GET's own answer would be (:class:`.Exchange`):

* 200: the entity, or a filter's matches (a ``@odata.nextLink`` is followed in a later batch), or
  with ``counting`` the ``@odata.count`` of a filter's rows;
* 404 ``Internal_RecordNotFound``: no entity (``None``);
* what :class:`.retry.Attempts` retries (429, 502, 503, 504, an operation left unanswered or answered
  with what BC does not send): asked again, alone, in a batch after the wait the operation's own
  :class:`~.retry.Attempts` decides (the longest of a round's waits);
* anything else: the typed error of :func:`.errors.error_from_response`, naming the id or the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from typing_extensions import Self

from airflow_provider_bc.client.batch.answers import Asked
from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError, BusinessCentralError
from airflow_provider_bc.client.http.exchange import Answer, Exchange
from airflow_provider_bc.client.http.retry import Attempts, Retrying
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.paging import PageCursor
from airflow_provider_bc.client.odata.queries import Query, count_of, lookup_query
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import ClientSettings


class Operation:
    """One GET of a batch read: the id or value it is for, what it found, its own retry budget."""

    def __init__(
        self,
        settings: ClientSettings,
        op_id: str,
        query: Query,
        cursor: PageCursor | None = None,
        *,
        asked: Asked | None,
        deadline: float | None = None,
        counting: bool = False,
    ) -> None:
        """``cursor``: a filter's pages, followed by ``@odata.nextLink``; without, one entity by id.
        ``asked``: what each entity answered must hold (``None``: nothing to check it by).
        ``deadline``: a ``time.monotonic()`` instant after which it is not asked again.
        ``counting``: ``query`` is a :func:`~.queries.count_query` (no ``cursor``); its answer's count is
        kept in :attr:`count`."""
        self.id = op_id
        self.found: list[dict[str, Any]] = []
        self.count: int | None = None
        self._counting = counting
        self.exchange: Exchange | None = Exchange(settings, query)  # ``None`` once done
        self._settings = settings
        self._cursor = cursor
        self._asked = asked
        self._deadline = deadline
        self._attempts: Attempts | None = None

    @classmethod
    def by_id(
        cls, settings: ClientSettings, op_id: str, urls: ApiUrls, lookup: Lookup, *, deadline: float | None = None
    ) -> Self:
        """The GET of ``lookup``'s entity by id, its ``id`` selected so that the answer is checked to be it."""
        assert lookup.entity_id is not None
        kept = lookup.select is None or "id" in lookup.select
        query = lookup_query(urls, lookup if kept else replace(lookup, select=(*(lookup.select or ()), "id")))
        return cls(settings, op_id, query, asked=Asked("id", lookup.entity_id, kept), deadline=deadline)

    def end_by(self, deadline: float) -> None:
        """Not asked again after ``deadline`` (a ``time.monotonic()`` instant), nor after an earlier one."""
        self._deadline = deadline if self._deadline is None else min(self._deadline, deadline)

    def request(self, urls: ApiUrls) -> dict[str, Any]:
        """This GET as an entry of a ``$batch``'s ``requests``."""
        assert self.exchange is not None
        return {
            "id": self.id,
            "method": "GET",
            "url": urls.in_batch(self.exchange.url, self.exchange.params),
            "headers": {"client-request-id": self.exchange.client_request_id},
        }

    def read(self, answer: Answer | str) -> Retrying | None:
        """Take this GET's inner answer, or what is wrong with the ``$batch`` answer for it; the decision
        to send it again, or ``None`` (done, or a next page to read); raises the typed error when it gives up."""
        assert self.exchange is not None
        exchange = self.exchange
        try:
            if isinstance(answer, str):
                raise BusinessCentralBadAnswerError(f"{exchange.context}: {answer}", url=exchange.url)
            payload = exchange.read(answer)
            if self._counting:
                self.count = count_of(payload, exchange.context)
            elif self._cursor is None:  # by id: the entity, or none (a 404 saying so)
                self.found = self._checked(exchange, [payload]) if 200 <= answer.status < 300 else []
            else:
                self.found += self._checked(exchange, self._cursor.page(payload).entities)
        except BusinessCentralError as error:
            self._attempts = self._attempts or Attempts(self._settings, exchange.context, deadline=self._deadline)
            return self._attempts.after(error)
        query = None if self._cursor is None else self._cursor.next_query()
        self.exchange = None if query is None else Exchange(self._settings, query)
        return None

    def _checked(self, exchange: Exchange, entities: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """``entities`` as handed over, each checked to answer what was asked (else a bad answer, raised)."""
        if self._asked is None:
            return list(entities)
        asked = self._asked
        for entity in entities:
            if (problem := asked.problem(entity)) is not None:
                raise BusinessCentralBadAnswerError(
                    f"{exchange.context}: the $batch answer to operation {self.id} {problem}", url=exchange.url
                )
        return [asked.shown(entity) for entity in entities]
