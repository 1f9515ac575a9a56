"""The operator and the sensor for many entities, executed directly, and the sensor's trigger run as the
triggerer runs it (real hook, real HTTPS to the emulator), asserting on what the emulator answered."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from airflow.providers.common.compat.module_loading import import_string
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout, TaskDeferred

from airflow_provider_bc.client.errors import BusinessCentralThrottledError
from airflow_provider_bc.operators.entities import BusinessCentralGetEntitiesOperator
from airflow_provider_bc.sensors.entities import BusinessCentralEntitiesSensor
from airflow_provider_bc.triggers import shared_clients
from airflow_provider_bc.triggers.business_central import BusinessCentralEntitiesTrigger
from tests.support import batch_checks, posting_after_checks

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"
ENTRIES = "itemLedgerEntries"


def new_ids(count: int) -> list[str]:
    """Ids no entry has yet."""
    return [str(uuid.uuid4()) for _ in range(count)]


def new_documents(count: int) -> list[str]:
    """Document numbers no entry has yet."""
    return [f"SET-{uuid.uuid4().hex[:10].upper()}" for _ in range(count)]


def asked(emulator: Any) -> list[list[str]]:
    """What each ``$batch`` asked for: the id, or the ``documentNumber`` value, of each operation."""

    def key(path: str) -> str:
        path = unquote(path)
        if f"{ENTRIES}(" in path:
            return path.split(f"{ENTRIES}(")[1].split(")")[0]
        return path.split("documentNumber eq '")[1].split("'")[0]

    return [[key(operation["path"]) for operation in operations] for operations in batch_checks(emulator)]


def api_routes(emulator: Any) -> set[str]:
    """The routes of the API requests the emulator answered (Entra's left out)."""
    return set(emulator.stats()["requests"]) - {"token", "discovery"}


def test_the_operator_returns_each_id_with_its_entity_or_none_from_one_batch(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    (missing,) = new_ids(1)
    ids = [DOCUMENTED_ID, missing, DOCUMENTED_ID.upper()]
    operator = BusinessCentralGetEntitiesOperator(
        task_id="get", entity_set=ENTRIES, entity_ids=ids, select=["id", "entryNumber"]
    )
    found = operator.execute({})
    assert json.loads(json.dumps(found)) == found  # XCom-safe
    assert list(found) == ids
    assert found[missing] is None
    assert found[DOCUMENTED_ID]["entryNumber"] == 1 and found[DOCUMENTED_ID.upper()]["id"] == DOCUMENTED_ID
    assert api_routes(bc_emulator) == {"$batch"}
    assert asked(bc_emulator) == [[DOCUMENTED_ID, missing]]  # one request; the id given twice read once


def test_the_operator_by_match_values_returns_each_values_matches(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    operator = BusinessCentralGetEntitiesOperator(
        task_id="get",
        entity_set=ENTRIES,
        match_field="documentNumber",
        match_values=["START-MANF", "NO-SUCH-DOC"],
        select="id,documentNumber",
    )
    found = operator.execute({})
    assert found["NO-SUCH-DOC"] == []
    assert found["START-MANF"] and {entry["documentNumber"] for entry in found["START-MANF"]} == {"START-MANF"}
    assert asked(bc_emulator) == [["START-MANF", "NO-SUCH-DOC"]]


def test_the_operator_leaves_an_outage_to_task_retries_and_fails_at_once_without_permission(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection(max_retries=0)
    operator = BusinessCentralGetEntitiesOperator(task_id="get", entity_set=ENTRIES, entity_ids=[DOCUMENTED_ID])
    bc_emulator.add_fault(503, route="$batch")
    with pytest.raises(BusinessCentralThrottledError):
        operator.execute({})
    bc_emulator.add_fault(403, route="itemLedgerEntry")  # the operation inside the batch
    with pytest.raises(AirflowFailException, match=f"403.*{DOCUMENTED_ID}|{DOCUMENTED_ID}.*403"):
        operator.execute({})


def test_the_sensor_keeps_what_it_found_asks_only_for_the_missing_and_names_them(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], task_logs: Callable[[], str]
) -> None:
    bc_connection()
    first, last = new_ids(2)
    sensor = BusinessCentralEntitiesSensor(
        task_id="wait", entity_set=ENTRIES, entity_ids=[DOCUMENTED_ID, first, last], select=["id", "entryNumber"]
    )
    assert not sensor.poke({}).is_done
    assert f"1 of 3 found; missing 2: {first}, {last}" in task_logs()
    bc_emulator.insert_entry(id=first)
    assert not sensor.poke({}).is_done
    assert f"2 of 3 found; missing 1: {last}" in task_logs()
    bc_emulator.insert_entry(id=last)
    done = sensor.poke({})
    assert "3 of 3 found" in task_logs()
    assert done.is_done
    assert list(done.xcom_value) == [DOCUMENTED_ID, first, last]
    assert [entity["id"] for entity in done.xcom_value.values()] == [DOCUMENTED_ID, first, last]
    assert asked(bc_emulator) == [[DOCUMENTED_ID, first, last], [first, last], [last]]


def test_the_sensor_by_match_is_done_at_min_found_and_returns_those_found(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], task_logs: Callable[[], str]
) -> None:
    bc_connection()
    documents = new_documents(3)
    sensor = BusinessCentralEntitiesSensor(
        task_id="wait", entity_set=ENTRIES, match={"documentNumber": documents}, min_found=2
    )
    assert not sensor.poke({}).is_done
    bc_emulator.insert_entry(documentNumber=documents[2])
    assert not sensor.poke({}).is_done
    assert f"1 of 3 found (2 needed); missing 2: {documents[0]}, {documents[1]}" in task_logs()
    bc_emulator.insert_entry(documentNumber=documents[0])
    done = sensor.poke({})
    assert done.is_done
    assert list(done.xcom_value) == [documents[0], documents[2]]  # in the order given; the third not there
    assert [[entry["documentNumber"] for entry in found] for found in done.xcom_value.values()] == [
        [documents[0]],
        [documents[2]],
    ]
    assert asked(bc_emulator) == [documents, documents, documents[:2]]


def test_the_log_names_the_first_20_missing_and_counts_the_others(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], task_logs: Callable[[], str]
) -> None:
    bc_connection()
    missing = new_ids(249)
    sensor = BusinessCentralEntitiesSensor(task_id="wait", entity_set=ENTRIES, entity_ids=[*missing, DOCUMENTED_ID])
    assert not sensor.poke({}).is_done
    lines = [line for line in task_logs().splitlines() if "found; missing" in line]  # Airflow 2: twice
    assert lines and all(f"1 of 250 found; missing 249: {', '.join(missing[:20])} and 229 more" in x for x in lines)
    assert not any(missing[20] in line for line in lines)
    assert [len(operations) for operations in batch_checks(bc_emulator)] == [100, 100, 50]


def test_the_sensor_waits_through_an_outage_and_fails_at_once_without_permission(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection(max_retries=0)
    bc_emulator.add_fault(503, route="$batch")
    sensor = BusinessCentralEntitiesSensor(task_id="wait", entity_set=ENTRIES, entity_ids=[DOCUMENTED_ID])
    assert not sensor.poke({}).is_done  # logged, not raised
    assert sensor.poke({}).is_done
    bc_emulator.add_fault(403, route="itemLedgerEntries")  # a filter's operation inside the batch
    by_match = BusinessCentralEntitiesSensor(task_id="m", entity_set=ENTRIES, match={"documentNumber": ["X"]})
    with pytest.raises(AirflowFailException, match="403"):
        by_match.poke({})


def _rebuilt(trigger: BusinessCentralEntitiesTrigger) -> tuple[BusinessCentralEntitiesTrigger, dict[str, Any]]:
    """What the triggerer does: serialize, store as JSON, import the class, build it again; and the kwargs."""
    classpath, kwargs = trigger.serialize()
    stored = json.loads(json.dumps(kwargs))  # JSON-safe, or this raises
    rebuilt = import_string(classpath)(**stored)
    assert isinstance(rebuilt, BusinessCentralEntitiesTrigger)
    return rebuilt, stored


async def _first_event(trigger: BusinessCentralEntitiesTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")


def test_deferred_the_trigger_asks_only_for_the_missing_until_the_last_is_posted(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], task_logs: Callable[[], str]
) -> None:
    conn = bc_connection()
    first, last = new_ids(2)
    ids = [DOCUMENTED_ID, first, last]
    sensor = BusinessCentralEntitiesSensor(
        task_id="wait", entity_set=ENTRIES, entity_ids=ids, deferrable=True, poke_interval=0.5, timeout=60
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    assert deferred.value.method_name == "execute_complete"
    trigger, stored = _rebuilt(deferred.value.trigger)
    assert set(stored) == {"business_central_conn_id", "lookup", "min_found", "poll_interval", "timeout_at"}
    assert stored["lookup"]["keys"] == ids and stored["min_found"] is None
    assert conn["password"] not in json.dumps(stored) and "Bearer" not in json.dumps(stored)

    # the sensor's own check was the first; the trigger's first check asks for all three again
    assert f"1 of 3 found; missing 2: {first}, {last}" in task_logs()
    bc_emulator.insert_entry(id=first)
    with posting_after_checks(bc_emulator, {2: {"id": last}}) as posted:
        event = asyncio.run(asyncio.wait_for(_first_event(trigger), timeout=60))
    assert [entry["id"] for entry in posted] == [last]
    assert event["status"] == "success"
    assert asked(bc_emulator) == [ids, ids, [last]]
    assert f"2 of 3 found; missing 1: {last} (check 1)" in task_logs()
    found = sensor.execute_complete({}, event)
    assert list(found) == ids and [entity["id"] for entity in found.values()] == ids
    assert not shared_clients._shared  # the trigger closed the shared client


def test_the_trigger_times_out_naming_the_missing_and_reports_a_lost_permission(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    (missing,) = new_documents(1)
    sensor = BusinessCentralEntitiesSensor(
        task_id="wait", entity_set=ENTRIES, match={"documentNumber": ["START-MANF", missing]}, timeout=1
    )
    trigger = BusinessCentralEntitiesTrigger.waiting_for(
        sensor._new_progress().lookup, business_central_conn_id="business_central_default", poll_interval=0.3, timeout=1
    )
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), timeout=60))
    assert event["status"] == "timeout" and f"1 of 2 found; missing 1: {missing}" in event["message"]
    assert len(batch_checks(bc_emulator)) >= 2 and all(ops == [missing] for ops in asked(bc_emulator)[1:])
    with pytest.raises(AirflowSensorTimeout, match=missing):
        sensor.execute_complete({}, event)

    bc_emulator.add_fault(403, route="itemLedgerEntries")
    lost = BusinessCentralEntitiesTrigger.waiting_for(
        trigger.lookup, business_central_conn_id="business_central_default", poll_interval=30, timeout=60
    )
    event = asyncio.run(asyncio.wait_for(_first_event(lost), timeout=60))
    assert event["status"] == "error" and "403" in event["message"]
    with pytest.raises(AirflowFailException, match="403"):
        sensor.execute_complete({}, event)


def test_the_trigger_does_not_retry_a_check_past_its_timeout(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    (missing,) = new_ids(1)
    bc_emulator.add_fault(429, count=2, route="itemLedgerEntry", path_contains=missing, retry_after=30)
    trigger = BusinessCentralEntitiesTrigger.waiting_for(
        BusinessCentralEntitiesSensor(task_id="wait", entity_set=ENTRIES, entity_ids=[missing])._new_progress().lookup,
        business_central_conn_id="business_central_default",
        poll_interval=60,
        timeout=3,
    )
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), timeout=60))
    assert event["status"] == "timeout"  # waiting out the 30 s Retry-After would have answered late
    statuses = [[operation["status"] for operation in batch] for batch in batch_checks(bc_emulator)]
    assert statuses == [[429], [429]]  # the first check and the last, at the timeout: one attempt each
