"""The extraction's own error: its destination failed."""

from __future__ import annotations

from airflow_provider_bc.client.errors import BusinessCentralError


class BusinessCentralDestinationError(BusinessCentralError):
    """An extraction could not write or read its destination (object storage): ``transient`` unless
    access was refused, the place does not exist or is not a folder, or what is stored is unreadable."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient
