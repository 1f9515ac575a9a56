"""Arguments a task renders wrong fail the task at once (no Airflow retries), before any request;
a wait never ends on the wrong answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_bc.client import errors
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.operators.business_central import BusinessCentralGetEntityOperator
from airflow_provider_bc.operators.entities import BusinessCentralGetEntitiesOperator
from airflow_provider_bc.sensors.business_central import BusinessCentralEntitySensor
from airflow_provider_bc.sensors.entities import BusinessCentralEntitiesSensor

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


MANY = {"entity_set": "itemLedgerEntries"}
BY_ID = {**MANY, "entity_ids": [DOCUMENTED_ID]}
BAD_SET_ARGUMENTS = [
    ({**MANY, "entity_ids": []}, "entity_ids"),
    ({**MANY, "entity_ids": DOCUMENTED_ID}, "entity_ids"),  # a list rendered as text
    ({**MANY, "entity_ids": [DOCUMENTED_ID, "1) or (1 eq 1"]}, r"entity_ids\[1\]"),
    ({**MANY, "entity_ids": [DOCUMENTED_ID, None]}, r"entity_ids\[1\]"),
    ({**MANY, "entity_ids": {"a": DOCUMENTED_ID}}, "entity_ids"),
    ({**BY_ID, "entity_set": "item/../companies"}, "entity_set"),
    ({**BY_ID, "company_id": "CRONUS USA, Inc."}, "company_id"),
    ({**BY_ID, "select": "id; drop"}, "select"),
]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        *BAD_SET_ARGUMENTS,
        ({**MANY, "match": {}}, "match"),
        ({**MANY, "match": "documentNumber"}, "match"),
        ({**MANY, "match": {"documentNumber": ["A"], "itemNumber": ["B"]}}, "match"),
        ({**MANY, "match": {"documentNumber eq 'x' or id": ["x"]}}, "match"),
        ({**MANY, "match": {"documentNumber": []}}, r"match\['documentNumber'\]"),
        ({**MANY, "match": {"documentNumber": "108001"}}, r"match\['documentNumber'\]"),
        ({**MANY, "match": {"documentNumber": ["108001", ""]}}, r"match\['documentNumber'\]\[1\]"),
        ({**MANY, "match": {"documentNumber": ["108001", 1.5]}}, r"match\['documentNumber'\]\[1\]"),
        ({**BY_ID, "min_found": 0}, "min_found"),
        ({**BY_ID, "min_found": 2}, "min_found"),
        ({**BY_ID, "min_found": "1"}, "min_found"),
    ],
    ids=lambda value: repr(value)[:60],
)
def test_a_set_sensor_with_bad_rendered_arguments_fails_before_any_request(
    arguments: dict[str, Any], named: str, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    for deferrable in (False, True):  # a deferrable sensor fails on its first check too, before deferring
        sensor = BusinessCentralEntitiesSensor(task_id="wait", deferrable=deferrable, **arguments)
        with pytest.raises(AirflowFailException, match=f"{named}: ") as caught:
            sensor.execute({}) if deferrable else sensor.poke({})
        assert "BusinessCentralQueryError" in str(caught.value)
    assert bc_emulator.stats()["total_requests"] == 0


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        *BAD_SET_ARGUMENTS,
        ({**MANY, "match_field": "documentNumber", "match_values": []}, "match_values"),
        ({**MANY, "match_field": "documentNumber", "match_values": "108001"}, "match_values"),
        ({**MANY, "match_field": "documentNumber", "match_values": ["1", None]}, r"match_values\[1\]"),
        ({**MANY, "match_field": "document Number", "match_values": ["1"]}, "match_field"),
    ],
    ids=lambda value: repr(value)[:60],
)
def test_a_set_operator_with_bad_rendered_arguments_fails_before_any_request(
    arguments: dict[str, Any], named: str, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    operator = BusinessCentralGetEntitiesOperator(task_id="get", **arguments)
    with pytest.raises(AirflowFailException, match=f"{named}: ") as caught:
        operator.execute({})
    assert "BusinessCentralQueryError" in str(caught.value)
    assert bc_emulator.stats()["total_requests"] == 0


@pytest.mark.parametrize(
    ("task", "arguments"),
    [
        (BusinessCentralEntitiesSensor, {}),
        (BusinessCentralEntitiesSensor, {"entity_ids": [DOCUMENTED_ID], "match": {"documentNumber": ["1"]}}),
        (BusinessCentralGetEntitiesOperator, {}),
        (BusinessCentralGetEntitiesOperator, {"entity_ids": [DOCUMENTED_ID], "match_values": ["1"]}),
        (BusinessCentralGetEntitiesOperator, {"entity_ids": [DOCUMENTED_ID], "match_field": "documentNumber"}),
        (BusinessCentralGetEntitiesOperator, {"match_values": ["1"]}),
    ],
    ids=lambda value: getattr(value, "__name__", None) or repr(value)[:60],
)
def test_a_set_task_needs_ids_or_values_not_both_when_the_dag_is_parsed(task: Any, arguments: dict[str, Any]) -> None:
    with pytest.raises(errors.BusinessCentralQueryError, match="entity_ids: give entity_ids"):
        task(task_id="t", entity_set="itemLedgerEntries", **arguments)


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
