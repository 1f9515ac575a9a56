"""Business Central API v2.0 client: pure Python, no Airflow import.

The Airflow hook, operators, sensors and triggers are thin layers over these modules, which can
also be used from plain Python (scripts, notebooks, tests).
"""

from airflow_provider_bc.client.errors import (
    BusinessCentralAuthError,
    BusinessCentralBadRequestError,
    BusinessCentralConfigError,
    BusinessCentralConnectionError,
    BusinessCentralError,
    BusinessCentralNotFoundError,
    BusinessCentralPermissionError,
    BusinessCentralThrottledError,
    BusinessCentralTLSError,
)
from airflow_provider_bc.client.settings import ClientSettings

__all__ = [
    "BusinessCentralAuthError",
    "BusinessCentralBadRequestError",
    "BusinessCentralConfigError",
    "BusinessCentralConnectionError",
    "BusinessCentralError",
    "BusinessCentralNotFoundError",
    "BusinessCentralPermissionError",
    "BusinessCentralTLSError",
    "BusinessCentralThrottledError",
    "ClientSettings",
]
