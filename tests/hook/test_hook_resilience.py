"""Throttling, outages, token expiry and a foreign nextLink, as the emulator produces them."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralError, BusinessCentralThrottledError
from airflow_provider_bc.hooks.business_central import BusinessCentralHook

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"


def test_token_expiring_during_a_long_read(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_emulator.configure(token_lifetime=2, latency=0.4)
    bc_connection("bc_short_tokens", fresh_client=True)
    ids = [
        e["id"]
        for e in BusinessCentralHook("bc_short_tokens").iter_entities(
            "itemLedgerEntries", filter="entryNumber le 50000", select="id", page_size=5_000
        )
    ]
    assert len(ids) == 50_000 and len(set(ids)) == 50_000
    assert bc_emulator.stats()["tokens_issued"] >= 2


def test_a_rejected_token_is_replaced_once(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection("bc_revoked", fresh_client=True)
    hook = BusinessCentralHook("bc_revoked")
    hook.get_item_ledger_entry(DOCUMENTED_ID)
    bc_emulator.add_fault(401, count=1, route="itemLedgerEntry")
    assert hook.get_item_ledger_entry(DOCUMENTED_ID)["id"] == DOCUMENTED_ID
    assert bc_emulator.stats()["tokens_issued"] == 2
    bc_emulator.add_fault(401, count=2, route="itemLedgerEntry")
    with pytest.raises(BusinessCentralError) as caught:
        hook.get_item_ledger_entry(DOCUMENTED_ID)
    assert caught.value.status == 401 and caught.value.code == "Authentication_InvalidCredentials"


def test_throttled_three_times_then_served(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection()
    bc_emulator.add_fault(429, count=3, route="itemLedgerEntry", retry_after=1)
    assert BusinessCentralHook().get_item_ledger_entry(DOCUMENTED_ID)["entryNumber"] == 1
    attempts = [r for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntry"]
    assert [r["status"] for r in attempts] == [429, 429, 429, 200]
    gaps = [later["time"] - earlier["time"] for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= 1.0 for gap in gaps), gaps


def test_outage_beyond_the_retry_budget(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection(max_retries=2)
    bc_emulator.add_fault(503, count=10, route="itemLedgerEntry", retry_after=0)
    with pytest.raises(BusinessCentralThrottledError) as caught:
        BusinessCentralHook().get_item_ledger_entry(DOCUMENTED_ID)
    error = caught.value
    assert error.status == 503 and error.code and error.request_id and error.correlation_id
    assert error.transient
    assert bc_emulator.stats()["requests"]["itemLedgerEntry"]["503"] == 3


def test_dropped_connections_and_html_pages_are_retried(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    bc_emulator.add_fault("drop", count=1, route="itemLedgerEntry")
    bc_emulator.add_fault("html", count=1, route="itemLedgerEntry")
    bc_emulator.add_fault("cut", count=1, route="itemLedgerEntry")
    assert BusinessCentralHook().get_item_ledger_entry(DOCUMENTED_ID)["entryNumber"] == 1
    statuses = [r["status"] for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntry"]
    assert statuses == [0, 502, 0, 200]  # dropped, HTML page, cut mid-body, served


class _Listener:
    """A listener on another loopback port that only counts who connects to it."""

    def __init__(self) -> None:
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        while self._server.fileno() != -1:
            try:
                connection, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
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
        # parsers disagree on these: some see the API host, requests would connect to the other one
        "https://127.0.0.1:{other}\\@127.0.0.1:{api}/v2.0/steal?$skiptoken=x",
        "https://user@127.0.0.1:{api}/v2.0/x?$skiptoken=x",
    ],
    ids=["other-port", "backslash-userinfo", "userinfo"],
)
def test_next_link_to_another_origin_is_refused(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], other_origin: _Listener, shape: str
) -> None:
    bc_connection()
    api_port = bc_emulator.base_url.rsplit(":", 1)[1]
    foreign = shape.format(other=other_origin.port, api=api_port)
    bc_emulator.add_fault("next_link", count=1, route="itemLedgerEntries", next_link=foreign)
    pages = BusinessCentralHook().iter_pages("itemLedgerEntries", select="id", page_size=100)
    assert len(next(pages).entities) == 100
    with pytest.raises(BusinessCentralError, match="refusing to send the bearer token") as caught:
        next(pages)
    assert repr(foreign)[1:40] in str(caught.value)
    assert other_origin.connections == 0
    assert [r["route"] for r in bc_emulator.recent_requests()].count("itemLedgerEntries") == 1
