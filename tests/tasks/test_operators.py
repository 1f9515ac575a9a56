"""Operators and sensors executed directly (real hook, real HTTPS to the emulator)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_bc.client.errors import BusinessCentralNotFoundError
from airflow_provider_bc.operators.business_central import (
    BusinessCentralGetEntityOperator,
    BusinessCentralGetItemLedgerEntryOperator,
)
from airflow_provider_bc.sensors.business_central import (
    BusinessCentralEntitySensor,
    BusinessCentralItemLedgerEntrySensor,
)

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"


@pytest.mark.parametrize("bad_id", ["44a76d24", "44a76d24-52ff-eb11-bb76-000d3a220646) or (1 eq 1", ""])
def test_malformed_id_fails_before_any_request(
    bad_id: str, bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    operator = BusinessCentralGetItemLedgerEntryOperator(task_id="get", entry_id=bad_id)
    with pytest.raises(AirflowFailException, match="must be a GUID"):
        operator.execute({})
    assert bc_emulator.stats()["total_requests"] == 0


def test_not_found_names_entity_set_id_and_company(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    missing = "00000000-0000-0000-0000-0000000000ff"
    operator = BusinessCentralGetEntityOperator(task_id="get", entity_set="itemLedgerEntries", entity_id=missing)
    with pytest.raises(BusinessCentralNotFoundError) as caught:
        operator.execute({})
    message = str(caught.value)
    assert "itemLedgerEntries" in message and missing in message and bc_emulator.default_company_id in message


def test_operator_returns_a_json_safe_entity_with_decoded_enums(bc_connection: Callable[..., dict[str, Any]]) -> None:
    import json

    bc_connection()
    operator = BusinessCentralGetItemLedgerEntryOperator(
        task_id="get", entry_id=DOCUMENTED_ID, select=["entryType", "sourceType", "quantity"], decode_enum_values=True
    )
    entity = operator.execute({})
    assert json.loads(json.dumps(entity)) == entity
    assert entity["entryType"] == "Positive Adjmt." and entity["sourceType"] == " " and entity["quantity"] == 200
    assert set(BusinessCentralGetItemLedgerEntryOperator.template_fields) >= {"entity_id", "company_id", "select"}


def test_sensor_by_id_and_by_match_in_poke_mode(bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection()
    by_id = BusinessCentralItemLedgerEntrySensor(task_id="by_id", entry_id=DOCUMENTED_ID)
    found = by_id.poke({})
    assert found.is_done and found.xcom_value["entryNumber"] == 1
    by_match = BusinessCentralItemLedgerEntrySensor(
        task_id="by_match",
        match={"documentNumber": "START-MANF", "postingDate": dt.date(2022, 6, 1)},
        filter="quantity gt 0",
        max_records=5,
    )
    result = by_match.poke({})
    assert result.is_done
    assert {e["documentNumber"] for e in result.xcom_value} == {"START-MANF"}
    assert all(e["postingDate"] == "2022-06-01" and e["quantity"] > 0 for e in result.xcom_value)
    assert 1 <= len(result.xcom_value) <= 5
    missing = BusinessCentralItemLedgerEntrySensor(task_id="missing", match={"documentNumber": "NOPE"})
    assert not missing.poke({}).is_done


def test_sensor_keeps_waiting_through_an_outage(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection(max_retries=0)
    bc_emulator.add_fault(503, count=1, route="itemLedgerEntry")
    sensor = BusinessCentralItemLedgerEntrySensor(task_id="s", entry_id=DOCUMENTED_ID)
    assert not sensor.poke({}).is_done  # logged, not raised
    assert sensor.poke({}).is_done


def test_sensor_fails_at_once_on_a_bad_filter(bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection()
    sensor = BusinessCentralEntitySensor(task_id="s", entity_set="itemLedgerEntries", filter="quantity gtx 1")
    with pytest.raises(AirflowFailException, match="400"):
        sensor.poke({})


def test_sensor_needs_exactly_one_way_to_find() -> None:
    with pytest.raises(ValueError, match="entity_id, or filter"):
        BusinessCentralEntitySensor(task_id="s", entity_set="itemLedgerEntries")
    with pytest.raises(ValueError, match="entity_id, or filter"):
        BusinessCentralEntitySensor(task_id="s2", entity_set="itemLedgerEntries", entity_id=DOCUMENTED_ID, filter="x")


def test_sensor_fails_at_once_on_a_misspelled_entity_set(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    sensor = BusinessCentralEntitySensor(task_id="s", entity_set="itemLedgerEntrys", entity_id=DOCUMENTED_ID)
    with pytest.raises(AirflowFailException, match="404"):
        sensor.poke({})


def test_sensor_keeps_waiting_while_entra_is_unreachable(bc_connection: Callable[..., dict[str, Any]]) -> None:
    import socket

    with socket.socket() as closed:  # a port nobody listens on once this block ends
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    bc_connection(fresh_client=True, authority=f"https://127.0.0.1:{port}", max_retries=0)
    sensor = BusinessCentralItemLedgerEntrySensor(task_id="s", entry_id=DOCUMENTED_ID)
    assert not sensor.poke({}).is_done  # an outage is waited out, not mistaken for bad credentials


def test_untrusted_certificate_is_a_tls_error_not_an_outage(bc_connection: Callable[..., dict[str, Any]]) -> None:
    from airflow_provider_bc.client.errors import BusinessCentralTLSError
    from airflow_provider_bc.hooks.business_central import BusinessCentralHook

    bc_connection(fresh_client=True, verify=True)  # the system CAs do not trust the emulator's CA
    with pytest.raises(BusinessCentralTLSError, match="verify") as caught:
        BusinessCentralHook().list_companies()
    assert not caught.value.transient
    sensor = BusinessCentralItemLedgerEntrySensor(task_id="s", entry_id=DOCUMENTED_ID)
    with pytest.raises(AirflowFailException, match="TLS certificate"):
        sensor.poke({})


def test_an_entity_id_is_checked_once_on_its_way_from_the_operator_to_the_request(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_bc.client import values

    bc_connection()
    given = DOCUMENTED_ID.upper()
    checks: list[object] = []
    real = values.is_guid
    monkeypatch.setattr(values, "is_guid", lambda value: checks.append(value) or real(value))
    operator = BusinessCentralGetItemLedgerEntryOperator(task_id="get", entry_id=given)
    assert operator.execute({})["id"] == DOCUMENTED_ID
    assert [value for value in checks if str(value).lower() == DOCUMENTED_ID] == [given]  # in Lookup.build
    api = {
        route: counts
        for route, counts in bc_emulator.stats()["requests"].items()
        if route not in ("token", "discovery")
    }
    assert [sum(counts.values()) for counts in api.values()] == [1]
