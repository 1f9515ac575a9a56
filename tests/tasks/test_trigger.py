"""The deferrable path: execute -> TaskDeferred -> trigger.run() -> execute_complete, and 50 triggers at once.

(How long the event loop is held is measured in benchmarks/, not asserted here.)"""

from __future__ import annotations

import asyncio
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

from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.sensors.business_central import BusinessCentralItemLedgerEntrySensor
from airflow_provider_bc.sensors.entities import BusinessCentralEntitiesSensor
from airflow_provider_bc.triggers import shared_clients
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

    def checks() -> int:
        return sum(document in r["path"] for r in bc_emulator.recent_requests())

    def post_after_two_empty_checks() -> None:
        while checks() < 2:  # the sensor's own poke, then the trigger's first check
            time.sleep(0.05)
        bc_emulator.insert_entry(documentNumber=document)

    poster = threading.Thread(target=post_after_two_empty_checks)
    poster.start()
    event = asyncio.run(_first_event(trigger))
    poster.join()
    assert event["status"] == "success"
    assert checks() >= 3  # it kept polling until the entry was there
    records = sensor.execute_complete({}, event)
    assert [r["documentNumber"] for r in records] == [document]


def test_default_deferrable_is_read_when_the_task_runs(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    bc_connection()
    missing = {"documentNumber": f"NONE-{uuid.uuid4().hex[:8].upper()}"}
    sensors = [  # made before the setting changes: the DAG file's parse does not read it
        BusinessCentralItemLedgerEntrySensor(task_id="wait", match=missing, poke_interval=0.1, timeout=0.1),
        BusinessCentralEntitiesSensor(
            task_id="wait_all",
            entity_set="itemLedgerEntries",
            match={"documentNumber": [missing["documentNumber"]]},
            poke_interval=0.1,
            timeout=0.1,
        ),
    ]
    for sensor in sensors:
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
        with pytest.raises(TaskDeferred):
            sensor.execute({})
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "false")
        with pytest.raises(AirflowSensorTimeout):  # poked in place until its timeout
            sensor.execute({})


def test_trigger_timeout_becomes_a_sensor_timeout(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    trigger = BusinessCentralEntityTrigger(
        business_central_conn_id="business_central_default",
        lookup=Lookup(filter="documentNumber eq 'NEVER'"),
        poll_interval=0.5,
        timeout_at=time.time() + 2,
    )
    event = asyncio.run(_first_event(trigger))
    assert event["status"] == "timeout"
    assert trigger.timeout_at is not None and time.time() >= trigger.timeout_at  # not a moment early
    assert sum("NEVER" in r["path"] for r in bc_emulator.recent_requests()) >= 2  # and it kept checking
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
        business_central_conn_id="bc_bad", lookup=Lookup(filter="quantity gt 0"), poll_interval=30
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


def test_fifty_triggers_share_one_event_loop_and_one_connection_pool_without_blocking_it(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection(fresh_client=True)
    bc_emulator.configure(token_lifetime=2)  # MSAL then fetches a token for nearly every check
    documents = [f"MANY-{uuid.uuid4().hex[:10].upper()}" for _ in range(50)]
    triggers = [
        BusinessCentralEntityTrigger(
            business_central_conn_id="business_central_default",
            lookup=Lookup(filter=f"documentNumber eq '{document}'"),
            poll_interval=1.0,
            timeout_at=time.time() + 120,
        )
        for document in documents
    ]

    def post_all_after_each_was_checked() -> None:
        def asked() -> set[str]:
            paths = [r["path"] for r in bc_emulator.recent_requests()]
            return {d for d in documents if any(d in path for path in paths)}

        while len(asked()) < len(documents):  # every trigger's first check found nothing
            time.sleep(0.05)
        for document in documents:
            bc_emulator.insert_entry(documentNumber=document)

    loop_thread: list[int] = []

    async def main() -> list[dict[str, Any]]:
        loop_thread.append(threading.get_ident())
        return await asyncio.gather(*(_first_event(t) for t in triggers))

    poster = threading.Thread(target=post_all_after_each_was_checked)
    poster.start()
    try:
        with _Records("airflow_provider_bc.client.auth.tokens") as auth:
            events = asyncio.run(main())
    finally:
        poster.join()
    assert [e["status"] for e in events] == ["success"] * 50
    assert [e["records"][0]["documentNumber"] for e in events] == documents
    fetches = [r for r in auth.records if "Fetched a new Business Central token" in r.getMessage()]
    assert len(fetches) >= 10  # tokens were fetched while the triggers ran...
    assert all(r.thread != loop_thread[0] for r in fetches)  # ...and never on the event loop's thread
    assert bc_emulator.stats()["max_concurrency"] <= 5
    # one client for all 50 (a client each would open at least 50 connections): a pool of at most 5 busy
    reads = [r for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntries"]
    assert len(reads) >= 100 and len({r["connection"] for r in reads}) <= 10  # 2+ checks each
    assert not shared_clients._shared  # the last trigger to finish closed it
