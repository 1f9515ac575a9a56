"""Names shared by every layer, in a module that imports nothing (DAG files load it at parse time)."""

CONN_TYPE = "business_central"
DEFAULT_CONN_ID = "business_central_default"
ITEM_LEDGER_ENTRIES = "itemLedgerEntries"
