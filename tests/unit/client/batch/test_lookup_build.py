"""BatchLookup: built from a task's arguments (every field checked, errors naming it), carried to a trigger as data."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.client.batch.lookup import BatchLookup
from airflow_provider_bc.client.batch.reads import EntitiesById, MatchesByValue
from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.values import CompanyId, EntityId
from tests.support import offline_settings

ID_1 = "44a76d24-52ff-eb11-bb76-000d3a220646"
ID_2 = "5f2b3c4d-0000-4000-8000-000000000002"
COMPANY = "7B1E1A2C-3D4E-4F50-8162-738495A6B7C8"


def _field_of(call: Any) -> str:
    with pytest.raises(BusinessCentralQueryError) as caught:
        call()
    return caught.value.field


def test_ids_are_checked_kept_as_given_and_repeats_dropped_in_order() -> None:
    upper = ID_2.upper()
    lookup = BatchLookup.build("itemLedgerEntries", [ID_1, upper, ID_1], company_id=COMPANY, select="id, quantity")
    assert lookup.keys == (ID_1, upper) and lookup.by_id
    assert type(lookup.keys[0]) is EntityId and type(lookup.keys[1]) is str  # non-canonical text kept as given
    assert lookup.company_id == COMPANY.lower() and type(lookup.company_id) is CompanyId
    assert lookup.select == ("id", "quantity")
    assert lookup.describe() == "itemLedgerEntries by id"


def test_values_of_a_field_may_be_text_or_whole_numbers() -> None:
    lookup = BatchLookup.build("itemLedgerEntries", ["108001", 42, "108001"], "documentNumber", select=[])
    assert lookup.keys == ("108001", 42) and not lookup.by_id and lookup.select is None  # empty select: every field
    assert lookup.describe() == "itemLedgerEntries by documentNumber"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: BatchLookup.build("itemLedgerEntries", [ID_1, "not-a-guid"]), "entity_ids[1]"),
        (lambda: BatchLookup.build("itemLedgerEntries", ["a", True], "documentNumber"), "match_values[1]"),
        (lambda: BatchLookup.build("itemLedgerEntries", [" "], "documentNumber"), "match_values[0]"),
        (lambda: BatchLookup.build("itemLedgerEntries", [], "documentNumber"), "match_values"),
        (lambda: BatchLookup.build("itemLedgerEntries", {"a": 1}), "entity_ids"),
        (lambda: BatchLookup.build("itemLedgerEntries", 7), "entity_ids"),
        (lambda: BatchLookup.build("itemLedgerEntries", [1.5], "x", named="documents"), "documents[0]"),
        (lambda: BatchLookup.build("item ledger", [ID_1]), "entity_set"),
        (lambda: BatchLookup.build("itemLedgerEntries", [ID_1], company_id="acme"), "company_id"),
        (lambda: BatchLookup.build("itemLedgerEntries", [ID_1], select="id,$x"), "select"),
        (lambda: BatchLookup("itemLedgerEntries", ("1",), "no such"), "match_field"),
    ],
)
def test_each_bad_argument_is_refused_naming_it(call: Any, field: str) -> None:
    assert _field_of(call) == field


def test_a_list_rendered_as_text_is_refused_with_a_hint() -> None:
    with pytest.raises(BusinessCentralQueryError, match="render_template_as_native_obj") as caught:
        BatchLookup.build("itemLedgerEntries", f"['{ID_1}']")
    assert caught.value.field == "entity_ids"


def test_from_match_takes_one_field_and_its_values() -> None:
    lookup = BatchLookup.from_match("itemLedgerEntries", {"documentNumber": ["D1", "D2"]}, select=["id"])
    assert (lookup.field, lookup.keys, lookup.select) == ("documentNumber", ("D1", "D2"), ("id",))
    assert _field_of(lambda: BatchLookup.from_match("itemLedgerEntries", {"a": [1], "b": [2]})) == "match"
    assert _field_of(lambda: BatchLookup.from_match("itemLedgerEntries", ["D1"])) == "match"
    assert _field_of(lambda: BatchLookup.from_match("itemLedgerEntries", {"a b": ["D1"]})) == "match"
    assert _field_of(lambda: BatchLookup.from_match("itemLedgerEntries", {"doc": ["D1", None]})) == "match['doc'][1]"


keys = st.lists(st.integers(-(2**40), 2**40) | st.text(min_size=1).filter(str.strip), min_size=1, max_size=6)


@given(keys, st.none() | st.lists(st.sampled_from(["id", "quantity", "postingDate"]), min_size=1, max_size=3))
def test_a_lookup_by_value_survives_json_to_a_trigger(values: list[Any], select: list[str] | None) -> None:
    lookup = BatchLookup.build("itemLedgerEntries", values, "documentNumber", company_id=COMPANY, select=select)
    back = BatchLookup.from_dict(json.loads(json.dumps(lookup.to_dict())))
    assert back == lookup and [type(k) for k in back.keys] == [type(k) for k in lookup.keys]


def test_a_lookup_by_id_survives_json_and_its_ids_stay_checked() -> None:
    lookup = BatchLookup.build("itemLedgerEntries", [ID_1, ID_2.upper()])
    data = json.loads(json.dumps(lookup.to_dict()))
    assert data["keys"] == [ID_1, ID_2.upper()] and data["field"] is None and data["select"] is None
    back = BatchLookup.from_dict(data)
    assert back == lookup and type(back.keys[0]) is EntityId and type(back.entity_set) is type(lookup.entity_set)


def test_a_read_asks_by_id_or_by_field_with_the_lookups_options() -> None:
    settings = offline_settings(company_id=ID_2)
    urls = ApiUrls(settings)
    by_id = BatchLookup.build("itemLedgerEntries", [ID_1], company_id=COMPANY, select="id")
    by_value = BatchLookup.build("itemLedgerEntries", [7, "D1"], "documentNumber")
    ids = by_id.batch_read(settings, urls, by_id.keys)
    values = by_value.batch_read(settings, urls, [7])
    assert isinstance(ids, EntitiesById) and isinstance(values, MatchesByValue)
    sent = json.loads(ids.next_request().body)["requests"]  # type: ignore[union-attr,arg-type]
    assert [request["url"] for request in sent] == [
        f"companies({COMPANY.lower()})/itemLedgerEntries({ID_1.lower()})?$select=id"
    ]
    asked = json.loads(values.next_request().body)["requests"]  # type: ignore[union-attr,arg-type]
    assert [request["url"] for request in asked] == [
        f"companies({settings.company_id})/itemLedgerEntries?$filter=documentNumber%20eq%207"
    ]
