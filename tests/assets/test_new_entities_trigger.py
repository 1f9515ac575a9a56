"""The event trigger of asset watchers (``airflow_provider_bc.triggers.new_entities``), its shared poll
(``airflow_provider_bc.triggers.entity_polls``) and where it keeps its watermark
(``airflow_provider_bc.triggers.watermark_store``), driven on an event loop against the emulator:
it fires only when the watermark moves, in adjoining ranges; a late commit is signalled when it
commits; a restart signals a cut-off range again with the same key; throttling and an Entra outage
delay events but lose none; watchers of one entity set share one poll through Airflow's shared
streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from airflow.providers.common.compat.module_loading import import_string

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.key_ranges import key_edge
from airflow_provider_bc.extraction.cursors import iso, parse_datetime
from airflow_provider_bc.testing.asset_state import MemoryAssetStateStore as Store
from airflow_provider_bc.testing.emulator import EmulatorHandle
from airflow_provider_bc.triggers import entity_polls, new_entities, shared_clients
from airflow_provider_bc.triggers.new_entities import BusinessCentralNewEntitiesTrigger
from airflow_provider_bc.triggers.watermark_store import STATE_KEY
from tests.faults.conftest import emulator_settings

POLL = 0.2
ENTRIES = "itemLedgerEntries"


def shared_stream_manager() -> Any:
    """Airflow's ``SharedStreamManager``; the test is skipped on an Airflow before 3.3, which has no shared
    streams (each watcher polls alone there: its ``run()``, which the other tests drive)."""
    return pytest.importorskip(
        "airflow.triggers.shared_stream", reason="shared streams are Airflow 3.3's"
    ).SharedStreamManager


def highest_number(emulator: Any) -> int:
    """The highest entry number visible now (other tests of the session post entries too)."""
    client = BusinessCentralClient(emulator_settings(emulator))
    try:
        return key_edge(client, ENTRIES, "desc") or 0
    finally:
        client.close()


def watcher(company_id: str, store: Store | None = None, **arguments: Any) -> BusinessCentralNewEntitiesTrigger:
    """A trigger as the triggerer builds it: serialized, stored as JSON, imported, made again; it
    signals what is posted after the test began (``start``)."""
    arguments.setdefault("start", STARTS[company_id])
    made = BusinessCentralNewEntitiesTrigger(company_id=company_id, poll_interval=POLL, **arguments)
    classpath, kwargs = made.serialize()
    rebuilt = import_string(classpath)(**json.loads(json.dumps(kwargs)))
    rebuilt.asset_state_store = store
    return rebuilt


class Events:
    """A watcher's events as they come, the watcher running on the test's event loop."""

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self.got: list[dict[str, Any]] = []
        self.taken = 0
        self._arrived = asyncio.Event()
        self._task = asyncio.ensure_future(self._collect(stream))

    async def _collect(self, stream: AsyncIterator[Any]) -> None:
        async for event in stream:
            self.got.append(dict(event.payload))
            self._arrived.set()

    async def next(self, timeout: float = 15.0) -> dict[str, Any]:
        """The next event not yet taken, waiting for it when it has not come yet."""
        async with asyncio.timeout(timeout):
            while len(self.got) == self.taken:
                self._arrived.clear()
                await self._arrived.wait()
        self.taken += 1
        return self.got[self.taken - 1]

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def gets(emulator: Any) -> int:
    """The GETs of the entity set the emulator answered (a poll's probe, the reads of what is new)."""
    return sum(emulator.stats()["requests"].get(ENTRIES, {}).values())


async def polls(emulator: Any, count: int, timeout: float = 15.0) -> None:
    """Wait until the emulator answered ``count`` more GETs of the entity set: at least that many polls."""
    until = gets(emulator) + count
    async with asyncio.timeout(timeout):
        while gets(emulator) < until:
            await asyncio.sleep(0.05)


async def post(emulator: Any, count: int, **fields: Any) -> list[int]:
    """``count`` entries posted now; their numbers."""
    return [(await asyncio.to_thread(emulator.insert_entry, **fields))["entryNumber"] for _ in range(count)]


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[EmulatorHandle]:
    """An emulator of this module's own: its tests leave gaps and held numbers in the entry sequence,
    which the session's emulator must not have."""
    with EmulatorHandle.start(entries=200) as handle:
        yield handle


@pytest.fixture
def bc_emulator(module_emulator: EmulatorHandle) -> EmulatorHandle:
    """The module's emulator, its counters, faults and settings reset (what ``bc_connection`` uses)."""
    module_emulator.reset()
    return module_emulator


STARTS: dict[str, int] = {}


@pytest.fixture
def company(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> str:
    bc_connection()
    shared_clients._shared.clear()
    STARTS[str(bc_emulator.default_company_id)] = highest_number(bc_emulator)
    return str(bc_emulator.default_company_id)


def test_posted_entries_are_signalled_in_adjoining_ranges_and_a_quiet_company_gives_none(
    bc_emulator: Any, company: str
) -> None:
    async def scenario() -> None:
        store = Store()
        events = Events(watcher(company, store).run())
        await polls(bc_emulator, 4)
        assert events.got == []  # quiet: four polls, no event
        numbers = await post(bc_emulator, 3)
        first = await events.next()
        assert (first["from"], first["to"], first["count"]) == (numbers[0] - 1, numbers[-1], 3)
        assert first["filter"] == f"(entryNumber gt {numbers[0] - 1}) and (entryNumber le {numbers[-1]})"
        assert first["entity_set"] == ENTRIES and first["company_id"] == company
        more = await post(bc_emulator, 2)
        second = await events.next()
        assert (second["from"], second["to"], second["count"]) == (first["to"], more[-1], 2)
        assert second["idempotency_key"] != first["idempotency_key"]
        await polls(bc_emulator, 3)
        assert len(events.got) == 2  # nothing new: no event
        assert store.values[STATE_KEY] == {"through": more[-1], "pending": []}
        await events.stop()

    asyncio.run(scenario())


def test_a_late_commit_is_signalled_when_it_commits_and_a_gap_once_settled(bc_emulator: Any, company: str) -> None:
    async def scenario() -> None:
        events = Events(watcher(company, Store(), commit_lag=3.0).run())
        await polls(bc_emulator, 2)
        [held] = await asyncio.to_thread(bc_emulator.reserve_entries, 1)
        [after_held] = await post(bc_emulator, 1)
        assert after_held == held["entryNumber"] + 1
        await polls(bc_emulator, 3)
        assert events.got == []  # the held number stops the range below it
        await asyncio.to_thread(bc_emulator.commit_entries, [held["id"]])
        event = await events.next()
        assert (event["from"], event["to"], event["count"]) == (held["entryNumber"] - 1, after_held, 2)

        gap = await asyncio.to_thread(bc_emulator.skip_entry_numbers, 2)
        [above_gap] = await post(bc_emulator, 1)
        settled = await events.next(timeout=20)  # once the row above the gap is older than commit_lag
        assert (settled["from"], settled["to"], settled["count"]) == (after_held, above_gap, 1)
        assert list(gap) == list(range(after_held + 1, above_gap))
        await events.stop()

    asyncio.run(scenario())


def test_a_restart_signals_a_range_cut_off_again_with_the_same_key_then_adjoins(bc_emulator: Any, company: str) -> None:
    async def scenario() -> None:
        store = Store()
        events = Events(watcher(company, store).run())
        numbers = await post(bc_emulator, 2)
        first = await events.next()
        await events.stop()  # before the next poll confirms it: the triggerer died
        assert store.values[STATE_KEY]["pending"] == [first]

        again = Events(watcher(company, store).run())
        assert await again.next() == first  # the same range, the same idempotency_key
        later = await post(bc_emulator, 1)
        following = await again.next()
        assert (following["from"], following["to"]) == (numbers[-1], later[0])
        await polls(bc_emulator, 3)
        await again.stop()
        assert store.values[STATE_KEY] == {"through": later[0], "pending": []}

        # confirmed before the stop: nothing is signalled again
        quiet = Events(watcher(company, store).run())
        await polls(bc_emulator, 3)
        assert quiet.got == []
        await quiet.stop()

    asyncio.run(scenario())


def test_a_429_storm_and_an_entra_outage_delay_events_but_lose_none(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    conn = bc_connection(fresh_client=True, backoff_factor=0.05, backoff_max=0.2)  # quick retries
    shared_clients._shared.clear()
    STARTS[str(bc_emulator.default_company_id)] = highest_number(bc_emulator)

    async def scenario() -> None:
        events = Events(watcher(str(bc_emulator.default_company_id), Store()).run())
        await polls(bc_emulator, 2)
        bc_emulator.add_fault(429, route=ENTRIES, count=12, retry_after=0)
        numbers = await post(bc_emulator, 3)
        bc_emulator.add_fault(503, route="token", count=6)
        bc_emulator.revoke_tokens(conn["login"])  # the next request needs a token: Entra is down
        event = await events.next(timeout=60)
        assert (event["from"], event["to"], event["count"]) == (numbers[0] - 1, numbers[-1], 3)
        statuses = [r["status"] for r in bc_emulator.recent_requests() if r["route"] in (ENTRIES, "token")]
        assert 429 in statuses and 503 in statuses  # both happened before the event
        await events.stop()

    asyncio.run(scenario())


def test_the_serialized_arguments_hold_no_secret(bc_emulator: Any, bc_connection: Callable[..., Any]) -> None:
    conn = bc_connection()
    STARTS[str(bc_emulator.default_company_id)] = 7
    trigger = watcher(str(bc_emulator.default_company_id))
    text = json.dumps(trigger.serialize())
    assert conn["password"] not in text and conn["login"] not in text and "Bearer" not in text
    assert json.loads(text)[1] == {
        "company_id": str(bc_emulator.default_company_id),
        "entity_set": ENTRIES,
        "business_central_conn_id": "business_central_default",
        "filter": None,
        "watermark_field": "entryNumber",
        "poll_interval": POLL,
        "commit_lag": 900.0,
        "start": STARTS[str(bc_emulator.default_company_id)],
    }


def test_fifty_watchers_share_one_poll_through_airflow_s_shared_streams(bc_emulator: Any, company: str) -> None:
    SharedStreamManager = shared_stream_manager()

    async def scenario() -> None:
        manager = SharedStreamManager()
        watchers = [watcher(company, Store()) for _ in range(50)]
        keys = {w.shared_stream_key() for w in watchers}
        assert len(keys) == 1
        [key] = keys
        events = [
            Events(w.filter_shared_stream(manager.subscribe(trigger_id=i, trigger=w, key=key)))
            for i, w in enumerate(watchers)
        ]
        await polls(bc_emulator, 2)
        reserved = await asyncio.to_thread(bc_emulator.reserve_entries, 4)
        await asyncio.to_thread(bc_emulator.commit_entries, [entry["id"] for entry in reserved])  # all at once
        numbers = [entry["entryNumber"] for entry in reserved]
        got = [await e.next() for e in events]
        assert all((g["from"], g["to"], g["count"]) == (numbers[0] - 1, numbers[-1], 4) for g in got)
        reads = [r for r in bc_emulator.recent_requests() if r["route"] == ENTRIES and "filter" in r["path"]]
        assert len(reads) == 1  # one read of what is new, for the fifty (the polls' probes have no filter)
        for e in events:
            await e.stop()
        for i in range(len(watchers)):
            await manager.unsubscribe(i, key)

    asyncio.run(scenario())


def test_a_watcher_far_behind_catches_up_in_bounded_reads_losing_nothing(
    bc_emulator: Any, company: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entity_polls, "PAGE_SIZE", 2)
    monkeypatch.setattr(entity_polls, "MAX_ROWS", 3)
    monkeypatch.setattr(new_entities, "MAX_ROWS", 3)

    async def scenario() -> None:
        numbers = await post(bc_emulator, 7)  # posted before the watcher starts: a backlog
        events = Events(watcher(company, Store()).run())
        got = [await events.next() for _ in range(2)]
        assert [(e["from"], e["to"], e["count"]) for e in got] == [
            (numbers[0] - 1, numbers[3], 4),  # two pages of two: the read stops at four rows
            (numbers[3], numbers[6], 3),
        ]
        await events.stop()

    asyncio.run(scenario())


def test_by_last_modified_each_event_ends_at_the_horizon_and_counts_what_it_covers(
    bc_emulator: Any, company: str
) -> None:
    field = "lastModifiedDateTime"
    client = BusinessCentralClient(emulator_settings(bc_emulator))
    [newest] = client.find_entities(ENTRIES, select=[field], orderby=f"{field} desc", top=1)
    client.close()
    started = newest[field]  # what earlier tests posted is not after it

    async def scenario() -> None:
        events = Events(watcher(company, Store(), watermark_field=field, commit_lag=0.5, start=started).run())
        await post(bc_emulator, 2)
        first = await events.next()
        assert first["from"] == iso(parse_datetime(started, field)) and first["count"] == 2
        assert first["filter"] == f"({field} gt {first['from']}) and ({field} le {first['to']})"
        await post(bc_emulator, 1)
        second = await events.next()
        assert (second["from"], second["count"]) == (first["to"], 1)
        await events.stop()

    asyncio.run(scenario())


def test_watchers_starting_without_a_watermark_look_up_the_newest_settled_entry_once(
    bc_emulator: Any, company: str
) -> None:
    SharedStreamManager = shared_stream_manager()

    async def scenario() -> None:
        manager = SharedStreamManager()
        # commit_lag 0: every entry posted before (by earlier tests too) is settled at the start
        watchers = [watcher(company, Store(), start="newest", commit_lag=0) for _ in range(10)]
        key = watchers[0].shared_stream_key()
        streams = [manager.subscribe(trigger_id=i, trigger=w, key=key) for i, w in enumerate(watchers)]
        events = [Events(w.filter_shared_stream(stream)) for w, stream in zip(watchers, streams, strict=True)]
        await polls(bc_emulator, 3)
        numbers = await post(bc_emulator, 1)
        got = [await e.next() for e in events]
        assert {(g["to"], g["count"]) for g in got} == {(numbers[0], 1)}
        lookups = [r for r in bc_emulator.recent_requests() if "lastModifiedDateTime+lt" in r["path"]]
        assert len(lookups) == 1  # one lookup for the ten
        for e in events:
            await e.stop()
        for i in range(len(watchers)):
            await manager.unsubscribe(i, key)

    asyncio.run(scenario())
