"""Faults in the middle of a multi-page read, on the sync and the async path: links the bearer token
must not follow, pages that are not pages, a server that goes away and comes back."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_bc.client import errors
from tests.faults.conftest import Reader, api_requests, statuses

COLLECTION = "itemLedgerEntries"
FIRST_ENTRIES = "entryNumber le 1000"  # 10 pages of 100 among the seeded entries


class _Listener:
    """A listener on another loopback port that only counts who connects to it."""

    def __init__(self) -> None:
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def other_origin() -> Iterator[_Listener]:
    listener = _Listener()
    yield listener
    listener.close()


@pytest.mark.parametrize(
    "shape",
    [
        "https://127.0.0.1:{other}/v2.0/steal?$skiptoken=x",
        "http://127.0.0.1:{api}/v2.0/x?$skiptoken=x",
        "https://user:pw@127.0.0.1:{api}/v2.0/x?$skiptoken=x",
        # parsers disagree on this one: some see the API host, requests would connect to the other one
        "https://127.0.0.1:{other}\\@127.0.0.1:{api}/v2.0/steal?$skiptoken=x",
        "https://127.0.0.1:99999/v2.0/x?$skiptoken=x",
        "https://127.0.0.1:{api}/v2.0/x?$skiptoken=x\r\nHost: elsewhere",
    ],
    ids=["other-host", "plain-http", "userinfo", "backslash", "invalid-port", "header-injection"],
)
def test_a_next_link_off_the_api_origin_is_refused(
    shape: str, path: str, bc_emulator: Any, reader_for: Callable[..., Reader], other_origin: _Listener
) -> None:
    api_port = bc_emulator.base_url.rsplit(":", 1)[1]
    foreign = shape.format(other=other_origin.port, api=api_port)
    bc_emulator.add_fault("next_link", route=COLLECTION, next_link=foreign)
    pages = reader_for().pages(filter=FIRST_ENTRIES)
    assert len(next(pages).entities) == 100  # the page that carried the link is still handed out
    with pytest.raises(errors.BusinessCentralUnsafeLinkError, match="refusing to send the bearer token") as caught:
        next(pages)
    assert not caught.value.transient
    assert statuses(bc_emulator, COLLECTION) == [200]
    assert other_origin.connections == 0


def test_a_next_link_that_repeats_itself_stops_the_read(
    path: str, bc_emulator: Any, reader_for: Callable[..., Reader]
) -> None:
    pages = reader_for().pages(filter=FIRST_ENTRIES)
    first = next(pages)
    assert first.next_link
    bc_emulator.add_fault("next_link", route=COLLECTION, next_link=first.next_link)  # page 2 links back to page 2
    assert next(pages).entities[0]["entryNumber"] == 101
    with pytest.raises(errors.BusinessCentralBadAnswerError, match="repeats one already followed"):
        next(pages)
    assert statuses(bc_emulator, COLLECTION) == [200, 200]


@pytest.mark.parametrize("value", [None, "text", [1, 2, 3], {"id": "x"}], ids=["null", "string", "numbers", "object"])
def test_a_page_without_a_list_of_entities(
    value: object, path: str, bc_emulator: Any, reader_for: Callable[..., Reader]
) -> None:
    bc_emulator.add_fault("value", route=COLLECTION, value=value)
    with pytest.raises(errors.BusinessCentralBadAnswerError, match="'value' is not a list of entities"):
        next(reader_for().pages(filter=FIRST_ENTRIES))
    assert statuses(bc_emulator, COLLECTION) == [200]


def test_faults_mid_read_are_retried_and_nothing_is_lost_or_repeated(
    path: str, bc_emulator: Any, reader_for: Callable[..., Reader]
) -> None:
    bc_emulator.add_fault("cut", route=COLLECTION, path_contains="skiptoken")
    bc_emulator.add_fault(503, route=COLLECTION, path_contains="skiptoken", retry_after=0)
    numbers = [e["entryNumber"] for page in reader_for().pages(filter=FIRST_ENTRIES) for e in page.entities]
    assert numbers == list(range(1, 1001))
    assert statuses(bc_emulator, COLLECTION).count(200) == 10
    assert len(api_requests(bc_emulator, COLLECTION)) == 12


def test_a_restart_mid_read_resumes_from_the_last_next_link(
    path: str, bc_emulator: Any, reader_for: Callable[..., Reader]
) -> None:
    pages = reader_for().pages(filter=FIRST_ENTRIES)
    numbers = [e["entryNumber"] for e in next(pages).entities]
    bc_emulator.restart()  # the pooled connection is gone; the nextLink stays valid
    numbers += [e["entryNumber"] for page in pages for e in page.entities]
    assert numbers == list(range(1, 1001))


def test_an_outage_mid_read_fails_naming_the_link_to_resume_from(
    path: str, bc_emulator: Any, reader_for: Callable[..., Reader]
) -> None:
    reader = reader_for(max_retries=1)
    pages = reader.pages(filter=FIRST_ENTRIES)
    first = next(pages)
    with bc_emulator.down(), pytest.raises(errors.BusinessCentralConnectionError) as caught:
        next(pages)
    assert caught.value.url == first.next_link and caught.value.attempts == 2
    rest = [e["entryNumber"] for page in reader.pages(next_link=caught.value.url) for e in page.entities]
    assert [e["entryNumber"] for e in first.entities] + rest == list(range(1, 1001))


def test_iter_entities_yields_every_entity_of_every_page_once_in_order(
    bc_emulator: Any, reader_for: Callable[..., Reader]
) -> None:
    entities = list(reader_for().entities(COLLECTION, filter=FIRST_ENTRIES, orderby="entryNumber"))
    assert [entity["entryNumber"] for entity in entities] == list(range(1, 1001))
    assert len(api_requests(bc_emulator, COLLECTION)) == 10  # page by page, 100 a page
