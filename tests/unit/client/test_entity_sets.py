"""The entity sets the provider names: plain text a DAG file loads for nothing, checked where a read is built."""

from __future__ import annotations

from airflow_provider_bc.client.entity_sets import ITEM_LEDGER_ENTRIES
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.values import EntitySet
from tests.support import modules_loaded_by


def test_item_ledger_entries_is_a_valid_entity_set() -> None:
    assert ITEM_LEDGER_ENTRIES == "itemLedgerEntries" == EntitySet.of(ITEM_LEDGER_ENTRIES)


def test_a_lookup_reads_item_ledger_entries_unless_told_otherwise() -> None:
    lookup = Lookup(entity_id="44a76d24-52ff-eb11-bb76-000d3a220646")
    assert lookup.entity_set == ITEM_LEDGER_ENTRIES and type(lookup.entity_set) is EntitySet


def test_a_dag_file_importing_it_loads_nothing_else() -> None:
    loaded = modules_loaded_by("airflow_provider_bc.client.entity_sets")
    assert loaded == {"airflow_provider_bc", "airflow_provider_bc.client", "airflow_provider_bc.client.entity_sets"}
