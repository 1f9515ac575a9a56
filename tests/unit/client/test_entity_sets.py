"""The entity sets the provider names are checked entity-set values, and loading them loads no more than the values."""

from __future__ import annotations

from airflow_provider_bc.client.entity_sets import ITEM_LEDGER_ENTRIES
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.values import EntitySet
from tests.support import modules_loaded_by


def test_item_ledger_entries_is_a_checked_entity_set_passed_on_unchecked() -> None:
    assert type(ITEM_LEDGER_ENTRIES) is EntitySet and ITEM_LEDGER_ENTRIES == "itemLedgerEntries"
    assert EntitySet.of(ITEM_LEDGER_ENTRIES) is ITEM_LEDGER_ENTRIES  # a value of its type is not checked again
    assert EntitySet.of(str(ITEM_LEDGER_ENTRIES)) == ITEM_LEDGER_ENTRIES  # and it would pass the check


def test_a_lookup_reads_item_ledger_entries_unless_told_otherwise() -> None:
    assert Lookup(entity_id="44a76d24-52ff-eb11-bb76-000d3a220646").entity_set is ITEM_LEDGER_ENTRIES


def test_a_dag_file_importing_it_loads_only_the_values_and_their_errors() -> None:
    added = modules_loaded_by("airflow_provider_bc.client.entity_sets")
    ours = {module for module in added if module.startswith("airflow")}
    assert ours == {
        "airflow_provider_bc",
        "airflow_provider_bc.client",
        "airflow_provider_bc.client.entity_sets",
        "airflow_provider_bc.client.values",
        "airflow_provider_bc.client.errors",
    }
    assert {module.split(".")[0] for module in added} <= {"airflow_provider_bc", "typing_extensions"}
