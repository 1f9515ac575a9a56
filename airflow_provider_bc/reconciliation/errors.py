"""The reconciliation's own errors: rows that cannot be compared, and a warehouse that cannot be read."""

from __future__ import annotations

from airflow_provider_bc.client.errors import BusinessCentralError, BusinessCentralQueryError


class ReconciliationError(BusinessCentralQueryError):
    """A bad argument, or rows that cannot be merged: a row without the key, or a side not in
    ascending key order (``field`` names the argument or the key). Not transient: fix the task."""


class WarehouseError(BusinessCentralError):
    """The warehouse answered with an error (a missing table or column, SQL it refuses): fix the task's
    table, columns or query; retrying cannot help."""


class WarehouseUnavailableError(WarehouseError):
    """The warehouse could not be reached after the attempts the task makes; a task retry may help."""

    transient = True
