"""The per-principal governor against the emulator: many clients of one principal, in threads and on
an event loop, never have more than ``max_in_flight`` requests at the emulator at once, and a storm
of 429s costs retries, never entries.

Each test uses a principal of its own (a newly registered client), so it starts with a fresh governor.
``max_in_flight`` in the emulator's stats counts every BC API request from when it arrives until it is
answered (queued for a processing slot too), all principals together.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient
from airflow_provider_bc.client.base import ReadOptions
from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.http.governor import governor_for
from airflow_provider_bc.client.settings import ClientSettings
from tests.faults.conftest import emulator_settings, statuses

COLLECTION = "itemLedgerEntries"
#: 3 pages of 200 per read
READ: ReadOptions = {"filter": "entryNumber le 600", "select": "id,entryNumber", "page_size": 200}
ENTRIES = list(range(1, 601))
GOVERNOR_LOG = "airflow_provider_bc.client.http.governor"


def principal(emulator: Any, **overrides: Any) -> ClientSettings:
    """Settings of a newly registered client: a principal no other test has used."""
    client_id, client_secret = emulator.register_client()
    return emulator_settings(emulator, client_id=client_id, client_secret=client_secret, **overrides)


def read_sync(settings: ClientSettings) -> list[int]:
    """The entry numbers of one read, by a client of its own."""
    client = BusinessCentralClient(settings)
    try:
        return [entry["entryNumber"] for entry in client.iter_entities(COLLECTION, **READ)]
    finally:
        client.close()


async def read_async(settings: ClientSettings) -> list[int]:
    async with AsyncBusinessCentralClient(settings) as client:
        return [entry["entryNumber"] async for page in client.iter_pages(COLLECTION, **READ) for entry in page.entities]


async def read_many_async(settings: ClientSettings, tasks: int) -> list[list[int]]:
    return list(await asyncio.gather(*(read_async(settings) for _ in range(tasks))))


@pytest.mark.parametrize(("max_in_flight", "fewest"), [(5, 2), (12, 6)], ids=["default", "raised"])
def test_threads_with_clients_of_their_own_share_the_principals_slots(
    bc_emulator: Any, max_in_flight: int, fewest: int
) -> None:
    bc_emulator.configure(latency=0.2)  # requests overlap
    settings = principal(bc_emulator, max_in_flight=max_in_flight)
    with ThreadPoolExecutor(20) as pool:
        reads = list(pool.map(read_sync, [settings] * 20))
    assert reads == [ENTRIES] * 20
    assert fewest <= bc_emulator.stats()["max_in_flight"] <= max_in_flight
    stats = governor_for(settings).stats
    assert (stats.started, stats.in_flight, stats.throttled) == (60, 0, 0)
    assert stats.peak_in_flight == max_in_flight
    assert stats.waits > 0


def test_event_loop_tasks_and_threads_share_the_principals_slots(bc_emulator: Any) -> None:
    bc_emulator.configure(latency=0.2)
    settings = principal(bc_emulator)
    with ThreadPoolExecutor(11) as pool:
        on_loop: Future[list[list[int]]] = pool.submit(asyncio.run, read_many_async(settings, 10))
        in_threads = [pool.submit(read_sync, settings) for _ in range(10)]
        reads = [*on_loop.result(), *(read.result() for read in in_threads)]
    assert reads == [ENTRIES] * 20
    assert 2 <= bc_emulator.stats()["max_in_flight"] <= 5
    assert governor_for(settings).stats.started == 60


def test_a_storm_of_429s_costs_retries_not_entries(bc_emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, GOVERNOR_LOG)
    bc_emulator.configure(latency=0.05)
    bc_emulator.add_fault(429, count=30, route=COLLECTION)
    settings = principal(bc_emulator, max_retries=10)
    with ThreadPoolExecutor(10) as pool:
        reads = list(pool.map(read_sync, [settings] * 10))
    assert reads == [ENTRIES] * 10
    seen = statuses(bc_emulator, COLLECTION)
    assert (seen.count(429), seen.count(200), len(seen)) == (30, 30, 60)
    assert bc_emulator.stats()["max_in_flight"] <= 5
    stats = governor_for(settings).stats
    assert (stats.started, stats.throttled, stats.in_flight) == (60, 30, 0)
    assert any("at most 4 requests in flight now" in r.getMessage() for r in caplog.records)


def test_the_servers_rate_limit_is_waited_out_without_losing_entries(bc_emulator: Any) -> None:
    bc_emulator.configure(rate_limit=10, rate_window=1.0)  # answers 429 with a Retry-After of 1 s
    settings = principal(bc_emulator, max_retries=6)
    with ThreadPoolExecutor(8) as pool:
        reads = list(pool.map(read_sync, [settings] * 8))
    assert reads == [ENTRIES] * 8
    seen = statuses(bc_emulator, COLLECTION)
    assert seen.count(200) == 24
    assert seen.count(429) > 0
    assert len(seen) == 24 + seen.count(429)
    assert governor_for(settings).stats.throttled == seen.count(429)


def test_a_window_set_below_the_servers_rate_limit_avoids_429s(bc_emulator: Any) -> None:
    bc_emulator.configure(rate_limit=5, rate_window=0.5)
    settings = principal(bc_emulator, max_requests=5, request_window=1.0)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        reads = list(pool.map(read_sync, [settings] * 4))
    assert reads == [ENTRIES] * 4
    assert statuses(bc_emulator, COLLECTION) == [200] * 12
    assert time.monotonic() - started >= 2.0  # 12 starts, 5 per second
    assert governor_for(settings).stats.waits >= 7
