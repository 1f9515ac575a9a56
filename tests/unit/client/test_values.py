"""Checked values: an entity set, an entity id, a company id are checked where they are made, once."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.values import CompanyId, EntityId, EntitySet, company_option

COMPANY = "44a76d24-52ff-eb11-bb76-000d3a220646"
ENTRY = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_a_guid_is_kept_as_canonical_text() -> None:
    assert CompanyId.of(COMPANY.upper()) == COMPANY
    assert EntityId.of(uuid.UUID(ENTRY)) == ENTRY
    assert type(EntityId.of(ENTRY)) is EntityId and type(CompanyId.of(COMPANY)) is CompanyId


@pytest.mark.parametrize(
    "value",
    [
        "44a76d24-52ff-eb11-bb76-000d3a22064",  # one digit short
        "{44a76d24-52ff-eb11-bb76-000d3a220646}",
        "44a76d2452ffeb11bb76000d3a220646",
        "44a76d24-52ff-eb11-bb76-000d3a22064g",
        "1) or (1 eq 1",
        "CRONUS USA, Inc.",
        "",
        None,
        123,
    ],
)
def test_a_bad_id_is_a_query_error_naming_the_argument(value: object) -> None:
    with pytest.raises(BusinessCentralQueryError) as caught:
        EntityId.of(value)
    assert caught.value.field == "entity_id" and not caught.value.transient
    assert str(caught.value) == f"entity_id: must be a GUID like {COMPANY}, got {value!r}"
    with pytest.raises(BusinessCentralQueryError) as named:
        CompanyId.of(value, "ids[3]")
    assert named.value.field == "ids[3]"
    with pytest.raises(BusinessCentralQueryError, match=r"^company_id: "):
        CompanyId.of(value)


@pytest.mark.parametrize("name", ["itemLedgerEntries", "x", "A", "items_2", "a" + "b" * 127])
def test_plain_entity_set_names_pass(name: str) -> None:
    assert EntitySet.of(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "2items", "_items", "items(1)", "items/x", "items?$top=1", "items ", "a" + "b" * 128, None, ["items"]],
)
def test_any_other_entity_set_is_refused(name: object) -> None:
    with pytest.raises(BusinessCentralQueryError) as caught:
        EntitySet.of(name)
    assert caught.value.field == "entity_set"
    assert str(caught.value) == f"entity_set: must be a name like 'itemLedgerEntries', got {name!r}"


def test_a_checked_value_is_handed_back_unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    checked = EntityId.of(ENTRY)
    monkeypatch.setattr("airflow_provider_bc.client.values.is_guid", lambda value: pytest.fail(f"checked {value}"))
    assert EntityId.of(checked) is checked
    with pytest.raises(pytest.fail.Exception):  # another type is checked: a company id is no entity id
        EntityId.of(CompanyId.of(COMPANY))


def test_a_company_option_left_empty_means_the_settings_company() -> None:
    assert company_option(None) is None and company_option("") is None
    assert company_option(COMPANY.upper()) == COMPANY
