"""Property: any text used in an ``eq`` filter finds exactly the entry posted with it, through the
emulator's own filter parser (quotes, ``%``, ``&``, ``#``, ``+``, non-Latin text...)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.odata.filters import all_of, clause
from tests.faults.conftest import emulator_settings

TRICKY = st.sampled_from(["'", "''", "%", "%27", "&", "#", "+", "?", "/", "\\", " ", "é", "Ø", "中", "🙂", ")", " or "])
TEXT = st.lists(st.one_of(TRICKY, st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)), max_size=8)


@pytest.fixture(scope="module")
def client(bc_emulator_session: Any) -> Iterator[BusinessCentralClient]:
    client = BusinessCentralClient(emulator_settings(bc_emulator_session))
    yield client
    client.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=TEXT)
def test_an_eq_filter_finds_exactly_the_entry_posted_with_the_value(
    parts: list[str], client: BusinessCentralClient, bc_emulator_session: Any
) -> None:
    description = "".join(parts)[:100]
    tag = uuid.uuid4().hex[:20].upper()
    posted = bc_emulator_session.insert_entry(documentNumber=tag, description=description)
    same_tag = clause("documentNumber", "eq", tag)
    found = client.find_entities(
        "itemLedgerEntries", filter=all_of([same_tag, clause("description", "eq", description)])
    )
    assert [e["id"] for e in found] == [posted["id"]]
    assert found[0]["description"] == description
    other = all_of([same_tag, clause("description", "eq", description + "'")])
    assert client.find_entities("itemLedgerEntries", filter=other) == []
