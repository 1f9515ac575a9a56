"""Where a collection read stands: the next page's GET, the links already followed, the count.

Shared by the sync and async clients, which only fetch each :attr:`PageCursor.query`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, overload

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError
from airflow_provider_bc.client.odata.queries import Query, entities_of
from airflow_provider_bc.client.odata.urls import ApiUrls


class DecodedEntities(Sequence[dict[str, Any]]):
    """A page's entities as a body decoder holds them (``Query.decode``: as text, as columns ...), each
    read into a ``dict`` only when indexed. The decoder checked them as it read the body."""

    @abstractmethod
    def entity(self, index: int) -> dict[str, Any]:
        """Entity ``index`` (from 0) as a ``dict``."""

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self.entity(i) for i in range(len(self))[index]]
        return self.entity(range(len(self))[index])  # negative indexes and IndexError as a list has them


@dataclass(frozen=True)
class Page:
    """One page of a collection: its entities and the link to the next page (``None`` on the last).

    Pass ``next_link`` back to ``iter_pages(next_link=...)`` to resume a read where it stopped.
    """

    entities: Sequence[dict[str, Any]]
    next_link: str | None
    number: int


class PageCursor:
    """Follows ``@odata.nextLink`` from a first query; refuses links off the API origin and loops.

    A page is handed out before its link is checked, so a bad link fails the read only when the
    next page is asked for (:meth:`next_query`), and no entity already read is lost.
    """

    def __init__(self, urls: ApiUrls, first: Query) -> None:
        self._urls = urls
        self._context = first.context
        self._followed: set[str] = set()
        self._link: object = None
        #: the GET of the first page
        self.first = first
        self.pages = 0
        self.entities = 0

    def page(self, payload: dict[str, Any]) -> Page:
        """The page in ``payload``, the answer to the last query."""
        self.pages += 1
        value = payload.get("value")
        entities = (
            value
            if isinstance(value, DecodedEntities)
            else entities_of(payload, f"{self._context} (page {self.pages})")
        )
        self._link = payload.get("@odata.nextLink")
        self.entities += len(entities)
        return Page(entities, self._link if isinstance(self._link, str) else None, self.pages)

    def next_query(self) -> Query | None:
        """The GET of the next page (``None`` after the last), its link checked and pinned to the API origin."""
        if self._link is None:
            return None
        link = self._urls.next_link(self._link)
        if link in self._followed:
            raise BusinessCentralBadAnswerError(
                f"{self._context} (page {self.pages}): the nextLink repeats one already followed; "
                "stopping an endless read",
                url=link,
            )
        self._followed.add(link)
        return replace(self.first, url=link, params={}, context=f"{self._context} (page {self.pages + 1})")
