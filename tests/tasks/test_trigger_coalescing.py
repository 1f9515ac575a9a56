"""Triggers waiting on ids, on one event loop: their checks share ``$batch`` requests (one token, the
governor's 5 in flight), and each trigger still gets its own answer: its entity, or its own error.

Decided by what the emulator saw (requests, the operations inside each batch) and by the events."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from airflow_provider_bc.client.http.governor import governor_for
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.triggers import shared_clients
from airflow_provider_bc.triggers.business_central import BusinessCentralEntityTrigger

BY_ID = "itemLedgerEntry"  # the emulator's route of a GET by id (alone, or inside a $batch)


def waiting_for(entity_id: str, *, poll_interval: float = 0.5, timeout: float = 120) -> BusinessCentralEntityTrigger:
    return BusinessCentralEntityTrigger.waiting_for(
        Lookup.build("itemLedgerEntries", entity_id=entity_id),
        business_central_conn_id="business_central_default",
        poll_interval=poll_interval,
        timeout=timeout,
    )


def first_events(triggers: list[BusinessCentralEntityTrigger]) -> list[dict[str, Any]]:
    """Run every trigger on one event loop, as a triggerer does; each one's first event."""

    async def first(trigger: BusinessCentralEntityTrigger) -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    async def main() -> list[dict[str, Any]]:
        return await asyncio.gather(*(first(trigger) for trigger in triggers))

    return asyncio.run(main())


@contextmanager
def running(action: Callable[[threading.Event], None]) -> Iterator[None]:
    """``action(stop)`` in a thread while the ``with`` body runs; ``stop`` is set when the body ends
    (an error in the action fails the test)."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def target() -> None:
        try:
            action(stop)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    assert not errors, errors


def operations(emulator: Any) -> int:
    """Operations by id the emulator answered inside ``$batch`` requests so far."""
    return sum(emulator.stats()["operations"].get(BY_ID, {}).values())


def checks(emulator: Any) -> int:
    """Reads by id the emulator answered so far: inside ``$batch`` requests, or on their own."""
    return operations(emulator) + sum(emulator.stats()["requests"].get(BY_ID, {}).values())


def batches(emulator: Any) -> list[list[dict[str, Any]]]:
    """The operations of each recent ``$batch`` request, in order."""
    return [record["operations"] for record in emulator.recent_requests() if record["route"] == "$batch"]


@pytest.fixture
def entry_ids(bc_emulator: Any) -> list[str]:
    """Ids of the emulator's first 600 entries (read before the test; counters reset afterwards)."""
    from itertools import islice

    from airflow_provider_bc.client.client import BusinessCentralClient
    from tests.faults.conftest import emulator_settings

    client = BusinessCentralClient(emulator_settings(bc_emulator))
    try:
        return [entity["id"] for entity in islice(client.iter_entities("itemLedgerEntries", select="id"), 600)]
    finally:
        client.close()
        bc_emulator.reset()


def test_fifty_triggers_on_ids_check_in_batch_requests_and_fire_when_their_entries_are_posted(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection(fresh_client=True)
    ids = [str(uuid.uuid4()) for _ in range(50)]
    triggers = [waiting_for(entity_id) for entity_id in ids]

    def post_after_two_checks_each(stop: threading.Event) -> None:
        while checks(bc_emulator) < 2 * len(ids):
            if stop.wait(0.05):  # the triggers ended first
                return
        for entity_id in ids:
            bc_emulator.insert_entry(id=entity_id)

    with running(post_after_two_checks_each):
        events = first_events(triggers)

    assert [event["status"] for event in events] == ["success"] * 50
    assert [event["records"][0]["id"] for event in events] == ids
    stats = bc_emulator.stats()
    assert BY_ID not in stats["requests"]  # not one GET of its own...
    made, requests = operations(bc_emulator), stats["requests"]["$batch"]["200"]
    assert made >= 3 * len(ids)  # ...for 2 empty checks and a found one each
    assert requests * 5 <= made  # but many checks a request (one each without coalescing)
    assert set(stats["operations"][BY_ID]) == {"200", "404"}  # missing (404), then found
    assert stats["tokens_issued"] == 1
    assert not shared_clients._shared  # the last trigger to finish closed the client


def test_a_permanent_error_for_one_id_fails_its_trigger_only(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], entry_ids: list[str]
) -> None:
    bc_connection(fresh_client=True)
    ids = entry_ids[:3]
    bc_emulator.add_fault(403, route=BY_ID, path_contains=ids[1])

    events = first_events([waiting_for(entity_id) for entity_id in ids])

    assert [event["status"] for event in events] == ["success", "error", "success"]
    assert [events[0]["records"][0]["id"], events[2]["records"][0]["id"]] == [ids[0], ids[2]]
    assert "HTTP 403" in events[1]["message"] and ids[1] in events[1]["message"]
    (batch,) = batches(bc_emulator)  # one request answered all three...
    assert sorted(operation["status"] for operation in batch) == [200, 200, 403]  # ...each on its own


def test_coalesced_checks_keep_to_the_governor_s_five_requests_in_flight(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], entry_ids: list[str]
) -> None:
    bc_connection(fresh_client=True)
    bc_emulator.configure(latency=0.3)  # each batch holds its slot a while: the sixth has to wait
    triggers = [waiting_for(entity_id) for entity_id in entry_ids]

    events = first_events(triggers)

    assert [event["records"][0]["id"] for event in events] == entry_ids  # all found at their first check
    sizes = [len(batch) for batch in batches(bc_emulator)]
    assert len(sizes) >= 6 and max(sizes) <= 100 and sum(sizes) == 600
    stats = bc_emulator.stats()
    assert BY_ID not in stats["requests"] and stats["tokens_issued"] == 1
    assert stats["max_in_flight"] <= 5
    governor = governor_for(BusinessCentralHook().settings).stats
    assert governor.peak_in_flight == 5 and governor.waits >= 1  # batches queued for a slot


def test_a_check_is_not_retried_past_its_trigger_s_timeout(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], entry_ids: list[str]
) -> None:
    bc_connection(fresh_client=True)
    entity_id = entry_ids[0]
    bc_emulator.add_fault(429, count=2, route=BY_ID, path_contains=entity_id, retry_after=30)

    (event,) = first_events([waiting_for(entity_id, poll_interval=60, timeout=3)])

    assert event["status"] == "timeout"  # a retry in 30 s within a check would have found it
    statuses = [[operation["status"] for operation in batch] for batch in batches(bc_emulator)]
    assert statuses == [[429], [429]]  # the first check and the last, at the timeout: one attempt each
