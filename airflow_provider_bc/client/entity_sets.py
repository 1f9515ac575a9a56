"""Entity sets the provider names (a module that imports only :mod:`.values`: DAG files load it at parse time)."""

from airflow_provider_bc.client.values import EntitySet

ITEM_LEDGER_ENTRIES = EntitySet("itemLedgerEntries")
