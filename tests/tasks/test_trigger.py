"""The deferrable path: execute -> TaskDeferred -> trigger.run() -> execute_complete, and 50 triggers at once."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.module_loading import import_string
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout, TaskDeferred

from airflow_provider_bc.sensors.business_central import BusinessCentralItemLedgerEntrySensor
from airflow_provider_bc.triggers.business_central import BusinessCentralEntityTrigger


def _rebuilt(trigger: BusinessCentralEntityTrigger) -> BusinessCentralEntityTrigger:
    """What the triggerer does: serialize, store as JSON, import the class, build it again."""
    classpath, kwargs = trigger.serialize()
    stored = json.loads(json.dumps(kwargs))  # JSON-safe, or this raises
    rebuilt = import_string(classpath)(**stored)
    assert isinstance(rebuilt, BusinessCentralEntityTrigger)
    return rebuilt


async def _first_event(trigger: BusinessCentralEntityTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")


def test_deferral_round_trip_receives_an_entry_posted_later(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    conn = bc_connection()
    document = f"DEFER-{uuid.uuid4().hex[:8].upper()}"
    sensor = BusinessCentralItemLedgerEntrySensor(
        task_id="wait", match={"documentNumber": document}, deferrable=True, poke_interval=0.5, timeout=60
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.method_name == "execute_complete"
    trigger = _rebuilt(deferred.value.trigger)
    serialized = json.dumps(trigger.serialize()[1])
    assert conn["password"] not in serialized and "Bearer" not in serialized

    poster = threading.Timer(3.0, bc_emulator.insert_entry, kwargs={"documentNumber": document})
    started = time.monotonic()
    poster.start()
    event = asyncio.run(_first_event(trigger))
    poster.join()
    assert time.monotonic() - started >= 3.0
    assert event["status"] == "success"
    records = sensor.execute_complete({}, event)
    assert [r["documentNumber"] for r in records] == [document]


def test_trigger_timeout_becomes_a_sensor_timeout(bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection()
    trigger = BusinessCentralEntityTrigger(
        business_central_conn_id="business_central_default",
        entity_set="itemLedgerEntries",
        filter="documentNumber eq 'NEVER'",
        poll_interval=0.5,
        timeout_at=time.time() + 2,
    )
    started = time.monotonic()
    event = asyncio.run(_first_event(trigger))
    assert event["status"] == "timeout" and 1.9 <= time.monotonic() - started < 10
    sensor = BusinessCentralItemLedgerEntrySensor(task_id="wait", match={"documentNumber": "NEVER"}, timeout=2)
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete({}, event)


def test_trigger_reports_a_wrong_secret_as_an_error(
    bc_connection: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = bc_connection(fresh_client=True)
    conn["password"] = "wrong"
    monkeypatch.setenv("AIRFLOW_CONN_BC_BAD", json.dumps(conn))
    trigger = BusinessCentralEntityTrigger(
        business_central_conn_id="bc_bad", entity_set="itemLedgerEntries", filter="quantity gt 0", poll_interval=30
    )
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), timeout=20))
    assert event["status"] == "error" and "invalid_client" in event["message"]
    with pytest.raises(AirflowFailException, match="invalid_client"):
        BusinessCentralItemLedgerEntrySensor(task_id="w", filter="quantity gt 0").execute_complete({}, event)


class _Records(logging.Handler):
    def __init__(self, logger: str) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._logger = logging.getLogger(logger)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> _Records:
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)


def test_fifty_triggers_share_one_event_loop_without_blocking_it(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection(fresh_client=True)
    bc_emulator.configure(token_lifetime=2)  # MSAL then fetches a token for nearly every check
    documents = [f"MANY-{uuid.uuid4().hex[:10].upper()}" for _ in range(50)]
    triggers = [
        BusinessCentralEntityTrigger(
            business_central_conn_id="business_central_default",
            entity_set="itemLedgerEntries",
            filter=f"documentNumber eq '{document}'",
            poll_interval=1.0,
            timeout_at=time.time() + 120,
        )
        for document in documents
    ]

    warm_up = BusinessCentralEntityTrigger(
        business_central_conn_id="business_central_default",
        entity_set="itemLedgerEntries",
        entity_id="44a76d24-52ff-eb11-bb76-000d3a220646",
    )

    def post_all() -> None:
        for document in documents:
            bc_emulator.insert_entry(documentNumber=document)

    loop_thread: list[int] = []

    async def main() -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        loop_thread.append(threading.get_ident())
        # Warm-up, not measured: one-time imports and initialisation inside Airflow, anyio and
        # httpcore run in the loop on first use in any process (a long-lived triggerer pays once).
        loop.slow_callback_duration = 60
        await _first_event(warm_up)
        loop.slow_callback_duration = 0.1  # from here, any step holding the loop 100 ms is reported
        return await asyncio.gather(*(_first_event(t) for t in triggers))

    poster = threading.Timer(2.0, post_all)
    poster.start()
    gc.freeze()  # objects of earlier tests: keep full GC passes over them out of the timing
    try:
        with _Records("asyncio") as slow, _Records("airflow_provider_bc.client.auth") as auth:
            events = asyncio.run(main(), debug=True)
    finally:
        gc.unfreeze()
        poster.join()
    assert [e["status"] for e in events] == ["success"] * 50
    assert [e["records"][0]["documentNumber"] for e in events] == documents
    assert [r.getMessage() for r in slow.records if "took" in r.getMessage()] == []
    fetches = [r for r in auth.records if "Fetched a new Business Central token" in r.getMessage()]
    assert len(fetches) >= 10  # tokens were fetched while the triggers ran...
    assert all(r.thread != loop_thread[0] for r in fetches)  # ...and never on the event loop's thread
    assert bc_emulator.stats()["max_concurrency"] <= 5
