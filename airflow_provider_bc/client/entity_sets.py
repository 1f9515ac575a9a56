"""Entity sets the provider names (a module that imports nothing: DAG files load it at parse time)."""

ITEM_LEDGER_ENTRIES = "itemLedgerEntries"
