"""Arguments a task renders wrong fail the task at once (no Airflow retries), before any request;
a wait never ends on the wrong answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_bc.client import errors
from airflow_provider_bc.client.lookup import Lookup
from airflow_provider_bc.operators.business_central import BusinessCentralGetEntityOperator
from airflow_provider_bc.sensors.business_central import BusinessCentralEntitySensor

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"filter": ""}, "filter"),
        ({"filter": "   "}, "filter"),
        ({"match": {}}, "match"),
        ({"filter": "quantity gt 0", "match": {}}, "match"),
        ({"match": {"documentNumber eq 'x' or id": "x"}}, "field"),
        ({"match": {"documentNumber": object()}}, "value"),
        ({"filter": "quantity gt 0", "select": ["id", "quantity desc"]}, "select"),
        ({"filter": "quantity gt 0", "select": ","}, "select"),
        ({"filter": "quantity gt 0", "select": 7}, "select"),
        ({"filter": "quantity gt 0", "select": ["id", None]}, "select"),
        ({"filter": 7}, "filter"),
        ({"match": "documentNumber"}, "match"),
        ({"filter": "quantity gt 0", "company_id": ""}, "company_id"),
        ({"filter": "quantity gt 0", "company_id": "CRONUS USA, Inc."}, "company_id"),
        ({"filter": "quantity gt 0", "max_records": 0}, "top"),
        ({"entity_id": "1) or (1 eq 1"}, "entity_id"),
        ({"entity_id": ""}, "entity_id"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_sensor_with_bad_rendered_arguments_fails_before_any_request(
    arguments: dict[str, Any], named: str, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    sensor = BusinessCentralEntitySensor(task_id="wait", entity_set="itemLedgerEntries", **arguments)
    with pytest.raises(AirflowFailException, match=f"{named}: ") as caught:
        sensor.poke({})
    assert "BusinessCentralQueryError" in str(caught.value)
    assert bc_emulator.stats()["total_requests"] == 0


def test_an_operator_with_a_bad_select_fails_before_any_request(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    operator = BusinessCentralGetEntityOperator(
        task_id="get", entity_set="itemLedgerEntries", entity_id=DOCUMENTED_ID, select="id; drop"
    )
    with pytest.raises(AirflowFailException, match="select: 'id; drop' is not a property name"):
        operator.execute({})
    assert bc_emulator.stats()["total_requests"] == 0


def test_an_operator_leaves_transient_errors_to_airflow_retries(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection(max_retries=0)
    bc_emulator.add_fault(503, route="itemLedgerEntry")
    operator = BusinessCentralGetEntityOperator(task_id="get", entity_set="itemLedgerEntries", entity_id=DOCUMENTED_ID)
    with pytest.raises(errors.BusinessCentralThrottledError):
        operator.execute({})


def test_a_sensor_waits_through_an_answer_that_is_not_json(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection(max_retries=0)
    bc_emulator.add_fault("empty", route="itemLedgerEntries")
    sensor = BusinessCentralEntitySensor(task_id="wait", entity_set="itemLedgerEntries", filter="quantity gt 0")
    assert not sensor.poke({}).is_done
    assert sensor.poke({}).is_done


@pytest.mark.parametrize(
    "build",
    [
        lambda: Lookup(),
        lambda: Lookup(entity_id=DOCUMENTED_ID, filter="x eq 1"),
        lambda: Lookup(entity_set="item/../companies", filter="x eq 1"),
        lambda: Lookup(filter="x eq 1", top=True),
        lambda: Lookup.from_dict({"filter": "x eq 1", "select": ["id", "id,"]}),
    ],
    ids=["neither", "both", "entity-set", "top-bool", "select-from-dict"],
)
def test_a_lookup_refuses_what_it_cannot_send(build: Callable[[], Lookup]) -> None:
    with pytest.raises(errors.BusinessCentralQueryError):
        build()


def test_a_lookup_travels_as_plain_data_unchanged() -> None:
    lookup = Lookup.build(
        "itemLedgerEntries",
        filter="quantity gt 0",
        match={"documentNumber": "O'Brien"},
        company_id="3E5A0F1C-52FF-EB11-BB76-000D3A220646",
        select="id, entryNumber",
        top=3,
    )
    assert lookup.filter == "(quantity gt 0) and (documentNumber eq 'O''Brien')"
    assert lookup.company_id == "3e5a0f1c-52ff-eb11-bb76-000d3a220646"
    assert lookup.select == ("id", "entryNumber")
    assert Lookup.from_dict(lookup.to_dict()) == lookup


def test_a_trigger_stored_by_version_0_1_still_runs(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    import asyncio

    from airflow_provider_bc.triggers.business_central import BusinessCentralEntityTrigger

    bc_connection()
    stored = {  # the kwargs a 0.1 sensor deferred with, as the triggerer kept them
        "business_central_conn_id": "business_central_default",
        "entity_set": "itemLedgerEntries",
        "entity_id": None,
        "filter": "documentNumber eq 'START-MANF'",
        "company_id": None,
        "select": ["id", "documentNumber"],
        "top": 1,
        "poll_interval": 1.0,
        "timeout_at": time.time() + 30,
    }
    trigger = BusinessCentralEntityTrigger(**stored)
    assert trigger.lookup == Lookup(filter="documentNumber eq 'START-MANF'", select=("id", "documentNumber"))

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("no event")

    event = asyncio.run(asyncio.wait_for(first_event(), timeout=60))
    assert event["status"] == "success" and event["records"][0]["documentNumber"] == "START-MANF"
