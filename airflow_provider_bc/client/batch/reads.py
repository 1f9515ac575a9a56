"""``$batch`` reads: many GETs in one POST, planned and read here for the sync and async clients.

A client sends each :meth:`BatchRead.next_request` through its usual request loop (token, governor,
the retries of :mod:`.retry` for the POST itself), hands the answer to :meth:`BatchRead.read`, and
waits as told before the next one. A batch holds at most :data:`MAX_OPERATIONS` GETs (Business
Central refuses more) and asks for ``Prefer: odata.continue-on-error`` (else BC stops at the first
failed operation). Each GET is an :class:`~.operations.Operation`, which reads its own inner answer;
:mod:`.answers` reads the ``$batch`` answer and checks each inner one answers what was asked. This
module owns the rounds of a read, its options, and what the read of entities by id or by value finds.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Final, Generic, TypedDict, TypeVar

from typing_extensions import Unpack

from airflow_provider_bc.client.batch.answers import Asked, operation_answers
from airflow_provider_bc.client.batch.operations import Operation
from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.http.retry import Retrying
from airflow_provider_bc.client.odata.filters import clause, format_literal, select_fields
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.paging import PageCursor
from airflow_provider_bc.client.odata.queries import Query, collection_query, count_query
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.values import CompanyId, EntityId, EntitySet, company_option

#: the most operations Business Central takes in one ``$batch``
MAX_OPERATIONS: Final = 100
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
        answers = operation_answers(payload, [operation.id for operation in self._sent])
        for operation in self._sent:
            if (retrying := operation.read(answers.get(operation.id, "the $batch answer left it out"))) is not None:
                self._decisions.append(retrying)
            if operation.exchange is not None:
                self._next_round.append(operation)
        if self._round or not self._decisions:
            return None
        decisions, self._decisions = self._decisions, []
        return Retrying(max(d.wait for d in decisions), any(d.new_token for d in decisions))

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


class CountsByFilter(BatchRead[dict[Hashable, int]]):
    """How many entities match each filter (a ``$count`` GET per filter), keyed as given."""

    def __init__(
        self,
        settings: ClientSettings,
        urls: ApiUrls,
        entity_set: str,
        filters: Mapping[Hashable, str],
        **options: Unpack[BatchOptions],
    ) -> None:
        check_options(options)
        if options.get("select"):
            raise BusinessCentralQueryError("select", "a count selects no fields")
        scope, company = EntitySet.of(entity_set), company_option(options.get("company_id"))
        self._operations: dict[Hashable, Operation] = {}
        for key, where in filters.items():
            query = count_query(urls, scope, company, where)
            self._operations[key] = Operation(settings, str(len(self._operations)), query, asked=None, counting=True)
        super().__init__(urls, list(self._operations.values()), options.get("batch_size", MAX_OPERATIONS), entity_set)

    def result(self) -> dict[Hashable, int]:
        """Each filter's key: how many entities match it."""
        return {key: operation.count or 0 for key, operation in self._operations.items()}
