"""The reconciliation's own error: the rows it was given cannot be compared as they are."""

from __future__ import annotations

from airflow_provider_bc.client.errors import BusinessCentralQueryError


class ReconciliationError(BusinessCentralQueryError):
    """Rows that cannot be merged: a row without the key, or a side not in ascending key order
    (``field`` names the key). Not transient: the query feeding that side must change."""
