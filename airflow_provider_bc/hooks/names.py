"""The connection type and default connection id (a module that imports nothing: DAG files load it at parse time)."""

CONN_TYPE = "business_central"
DEFAULT_CONN_ID = "business_central_default"
