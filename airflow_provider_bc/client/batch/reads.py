"""``$batch`` reads: many GETs in one POST, planned and read here for the sync and async clients.

A client sends each :meth:`BatchRead.next_request` through its usual request loop (token, governor,
the retries of :mod:`.retry` for the POST itself), hands the answer to :meth:`BatchRead.read`, and
waits as told before the next one. A batch holds at most :data:`MAX_OPERATIONS` GETs (Business
Central refuses more) and asks for ``Prefer: odata.continue-on-error`` (else BC stops at the first
failed operation). Each inner answer is read as that GET's own answer would be (:class:`.Exchange`):

* 200: the entity, or a filter's matches (a ``@odata.nextLink`` is followed in a later batch);
* 404 ``Internal_RecordNotFound``: no entity (``None``);
* what :class:`.retry.Attempts` retries (429, 502, 503, 504, an operation left unanswered or answered
  with what BC does not send): asked again, alone, in a batch after the wait the operation's own
  :class:`~.retry.Attempts` decides (the longest of a round's waits);
* anything else: the typed error of :func:`.errors.error_from_response`, naming the id or the value.

An answer must answer what was asked (:class:`Asked`), else it is a bad answer (asked again): by id, an
entity with that ``id`` (selected for the check when ``select`` leaves it out, and not handed over then);
by value, entities whose field holds that value (when it is selected). A ``$batch`` answer whose operation
ids are not those sent, each once, is a bad answer for every operation of it.
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Generic, TypedDict, TypeVar

from requests.structures import CaseInsensitiveDict
from typing_extensions import Self, Unpack

from airflow_provider_bc.client.errors import (
    BusinessCentralBadAnswerError,
    BusinessCentralError,
    BusinessCentralQueryError,
)
from airflow_provider_bc.client.http.exchange import Answer, Exchange
from airflow_provider_bc.client.http.retry import Attempts, Retrying
from airflow_provider_bc.client.odata.filters import clause, decode_enum, format_literal, select_fields
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.paging import PageCursor
from airflow_provider_bc.client.odata.queries import Query, collection_query, lookup_query
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.values import CompanyId, EntityId, EntitySet, company_option

#: the most operations Business Central takes in one ``$batch``
MAX_OPERATIONS: Final = 100
#: how many ids or values a message names (the others are counted)
SHORTLIST: Final = 20
BATCH_HEADERS: Final = {"Content-Type": "application/json", "Prefer": "odata.continue-on-error"}

Result = TypeVar("Result")
Key = TypeVar("Key")


class BatchOptions(TypedDict, total=False):
    """Keyword options of the batch reads (:meth:`BusinessCentralClient.get_entities`, ``find_many``)."""

    company_id: str | None
    select: Iterable[str] | str | None
    batch_size: int


def check_batch_size(size: object) -> int:
    """``size`` if it is a whole number of operations from 1 to :data:`MAX_OPERATIONS`."""
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_OPERATIONS:
        raise BusinessCentralQueryError("batch_size", f"must be from 1 to {MAX_OPERATIONS}, got {size!r}")
    return size


def check_options(options: Mapping[str, object]) -> None:
    """Refuse a keyword that is not a :class:`BatchOptions` key (a misspelt option is not ignored)."""
    for name in options:
        if name not in BatchOptions.__optional_keys__:
            known = ", ".join(sorted(BatchOptions.__optional_keys__))
            raise BusinessCentralQueryError(name, f"is not an option of a batch read (the options: {known})")


def listed(given: Iterable[Key], name: str) -> Iterable[Key]:
    """``given``, refused when it is a text where a list of ``name`` is meant."""
    if isinstance(given, str):
        raise BusinessCentralQueryError(name, f"must be a list of {name}, got the text {given!r}")
    return given


def shortlist(items: Sequence[object], limit: int = SHORTLIST) -> str:
    """The first ``limit`` of ``items``, comma-separated, and how many more there are."""
    text = ", ".join(str(item) for item in items[:limit])
    return text if len(items) <= limit else f"{text} and {len(items) - limit} more"


def answer_entries(payload: Mapping[str, Any]) -> Iterator[tuple[str, Answer | None]]:
    """Each entry of a ``$batch`` answer naming an operation id: the id, and its answer (``None``: malformed)."""
    responses = payload.get("responses")
    for response in responses if isinstance(responses, list) else ():
        op_id = response.get("id") if isinstance(response, dict) else None
        if not isinstance(op_id, str):
            continue
        status, headers, body = (response.get(name) for name in ("status", "headers", "body"))
        headers = {} if headers is None else headers
        if (
            not isinstance(status, int)
            or isinstance(status, bool)
            or not isinstance(headers, dict)
            or not all(isinstance(value, str) for value in headers.values())
        ):
            yield op_id, None
            continue
        read_as = CaseInsensitiveDict(headers)
        if isinstance(body, dict | list):
            read_as.setdefault("Content-Type", "application/json")
        text = body if isinstance(body, str) else "" if body is None else json.dumps(body)
        yield op_id, Answer(status, read_as, text.encode())


def inner_answers(payload: Mapping[str, Any]) -> dict[str, Answer]:
    """The inner answers of a ``$batch`` answer by operation id; malformed entries are left out."""
    return {op_id: answer for op_id, answer in answer_entries(payload) if answer is not None}


def reads_as(answered: object, asked: object) -> bool:
    """Whether the JSON value ``answered`` can be the value ``asked``: texts (and ids) regardless of case, an
    enum's XML-encoded name decoded too; booleans and whole numbers exactly; other values are not compared."""
    asked = str(asked) if isinstance(asked, uuid.UUID) else asked
    if isinstance(asked, str):
        return isinstance(answered, str) and asked.casefold() in {answered.casefold(), decode_enum(answered).casefold()}
    if isinstance(asked, int):  # bool included: True is only true, 1 only 1
        return isinstance(answered, int) and isinstance(answered, bool) == isinstance(asked, bool) and answered == asked
    return True


@dataclass(frozen=True)
class Asked:
    """What an operation asks for: entities whose ``field`` holds ``value``. ``kept``: whether ``field``
    stays in the entities found (``False``: it was selected only to check the answer)."""

    field: str
    value: Hashable
    kept: bool = True

    def problem(self, entity: Mapping[str, Any]) -> str | None:
        """What is wrong with ``entity`` as an answer (``None``: nothing)."""
        if self.field not in entity:
            return f"holds no {self.field!r}: {str(entity)[:120]}"
        if not reads_as(entity[self.field], self.value):
            return f"holds {self.field} {entity[self.field]!r} where {self.value!r} was asked"
        return None

    def shown(self, entity: dict[str, Any]) -> dict[str, Any]:
        """``entity`` as handed over: without ``field`` unless it is :attr:`kept`."""
        return entity if self.kept else {name: value for name, value in entity.items() if name != self.field}


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
    ) -> None:
        """``cursor``: a filter's pages, followed by ``@odata.nextLink``; without, one entity by id.
        ``asked``: what each entity answered must hold (``None``: nothing to check it by).
        ``deadline``: a ``time.monotonic()`` instant after which it is not asked again."""
        self.id = op_id
        self.found: list[dict[str, Any]] = []
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
            if self._cursor is None:  # by id: the entity, or none (a 404 saying so)
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


class BatchRead(ABC, Generic[Result]):
    """The operations of one batch read, sent ``batch_size`` to a ``$batch`` in rounds: every
    operation in the first, then those to ask again (or with a next page) in the next one."""

    def __init__(self, urls: ApiUrls, operations: list[Operation], batch_size: int, what: str) -> None:
        self._urls = urls
        self._size = check_batch_size(batch_size)
        self._what = what
        self._round = operations
        self._next_round: list[Operation] = []
        self._decisions: list[Retrying] = []
        self._sent: list[Operation] = []

    def end_by(self, deadline: float) -> None:
        """No operation is asked again after ``deadline`` (a ``time.monotonic()`` instant)."""
        for operation in self._round + self._next_round:
            operation.end_by(deadline)

    def next_request(self) -> Query | None:
        """The next ``$batch`` POST, or ``None`` once every operation is done."""
        if not self._round:
            self._round, self._next_round = self._next_round, []
        self._sent, self._round = self._round[: self._size], self._round[self._size :]
        if not self._sent:
            return None
        body = {"requests": [operation.request(self._urls) for operation in self._sent]}
        return Query(
            self._urls.batch(),
            context=f"POST $batch of {len(self._sent)} reads of {self._what}",
            headers=BATCH_HEADERS,
            body=json.dumps(body, separators=(",", ":")).encode(),
            operations=len(self._sent),
        )

    def read(self, payload: Mapping[str, Any]) -> Retrying | None:
        """Read the answer to the last request; after a round's last one, the wait before the next
        round when operations are asked again (raises an operation's error when it gives up)."""
        answers = self._answers(payload)
        for operation in self._sent:
            if (retrying := operation.read(answers.get(operation.id, "the $batch answer left it out"))) is not None:
                self._decisions.append(retrying)
            if operation.exchange is not None:
                self._next_round.append(operation)
        if self._round or not self._decisions:
            return None
        decisions, self._decisions = self._decisions, []
        return Retrying(max(d.wait for d in decisions), any(d.new_token for d in decisions))

    def _answers(self, payload: Mapping[str, Any]) -> dict[str, Answer | str]:
        """Each operation's inner answer (or what is wrong with it); for every operation, what is wrong
        when the answer's operation ids are not those sent, each once."""
        entries = list(answer_entries(payload))
        sent = [operation.id for operation in self._sent]
        answered = [op_id for op_id, _ in entries]
        if Counter(answered) - Counter(sent):  # an id not sent, or one answered twice
            problem = f"the $batch answer does not answer the operations sent (sent {shortlist(sent)}; "
            return dict.fromkeys(sent, f"{problem}answered {shortlist(answered)})")
        return {op_id: answer or "the $batch answer to it is not what BC sends" for op_id, answer in entries}

    @abstractmethod
    def result(self) -> Result:
        """What the read found, once :meth:`next_request` is ``None``."""


class EntitiesById(BatchRead[dict[str, dict[str, Any] | None]]):
    """Entities by id: validated before anything is sent, each distinct id read once."""

    def __init__(
        self,
        settings: ClientSettings,
        urls: ApiUrls,
        entity_set: str,
        ids: Iterable[str],
        **options: Unpack[BatchOptions],
    ) -> None:
        check_options(options)
        self._keys = {given: EntityId.of(given, f"ids[{index}]") for index, given in enumerate(listed(ids, "ids"))}
        company, select = options.get("company_id"), options.get("select")
        scope = EntitySet.of(entity_set)
        of_company = None if company is None else CompanyId.of(company)
        selected = None if not select else select_fields(select)
        self._operations: dict[str, Operation] = {}
        for entity_id in dict.fromkeys(self._keys.values()):
            lookup = Lookup(scope, entity_id, company_id=of_company, select=selected)
            self._operations[entity_id] = Operation.by_id(settings, str(len(self._operations)), urls, lookup)
        super().__init__(urls, list(self._operations.values()), options.get("batch_size", MAX_OPERATIONS), entity_set)

    def result(self) -> dict[str, dict[str, Any] | None]:
        """Each id as given: its entity, or ``None`` when there is none."""
        found = {entity_id: operation.found for entity_id, operation in self._operations.items()}
        return {given: next(iter(found[entity_id]), None) for given, entity_id in self._keys.items()}


def distinct_filters(field: str, values: Iterable[Hashable]) -> dict[Hashable, str]:
    """``field eq <literal>`` for each distinct value. Values one key to Python but different literals to
    OData (``1`` and ``True``, ``2`` and ``2.0``) are refused, naming the later one: their matches could not
    be told apart in the answer, keyed by value."""
    filters: dict[Hashable, str] = {}
    for index, value in enumerate(listed(values, "values")):
        where = clause(field, "eq", value)
        if filters.setdefault(value, where) != where:
            earlier = next(key for key in filters if key == value)
            raise BusinessCentralQueryError(
                f"values[{index}]",
                f"{value!r} ({format_literal(value)} in OData) is the same key as the earlier {earlier!r} "
                f"({format_literal(earlier)} in OData): their matches could not be told apart; give one of them",
            )
    return filters


class MatchesByValue(BatchRead[dict[Hashable, list[dict[str, Any]]]]):
    """The entities whose ``field`` equals each value (``field eq <literal>``: v2.0 has no ``in``)."""

    def __init__(
        self,
        settings: ClientSettings,
        urls: ApiUrls,
        entity_set: str,
        field: str,
        values: Iterable[Hashable],
        **options: Unpack[BatchOptions],
    ) -> None:
        check_options(options)
        select = options.get("select")
        checked = not select or field in select_fields(select)  # else the answers cannot show the value
        scope, company = EntitySet.of(entity_set), company_option(options.get("company_id"))
        self._operations: dict[Hashable, Operation] = {}
        for value, where in distinct_filters(field, values).items():
            query = collection_query(urls, scope, company, filter=where, select=select)
            self._operations[value] = Operation(
                settings,
                str(len(self._operations)),
                query,
                PageCursor(urls, query),
                asked=Asked(field, value) if checked else None,
            )
        super().__init__(urls, list(self._operations.values()), options.get("batch_size", MAX_OPERATIONS), entity_set)

    def result(self) -> dict[Hashable, list[dict[str, Any]]]:
        """Each distinct value: the entities matching it (``[]`` for none)."""
        return {value: operation.found for value, operation in self._operations.items()}
