"""Business Central API v2.0 client: pure Python, no Airflow import.

The Airflow hook, operators, sensors and triggers are thin layers over these modules, which can
also be used from plain Python (scripts, notebooks, tests).
"""

from airflow_provider_bc.client.errors import (
    BusinessCentralAuthError,
    BusinessCentralBadAnswerError,
    BusinessCentralBadRequestError,
    BusinessCentralConfigError,
    BusinessCentralConnectionError,
    BusinessCentralDestinationError,
    BusinessCentralError,
    BusinessCentralNotFoundError,
    BusinessCentralPermissionError,
    BusinessCentralQueryError,
    BusinessCentralServerError,
    BusinessCentralThrottledError,
    BusinessCentralTLSError,
    BusinessCentralTokenRejectedError,
    BusinessCentralUnsafeLinkError,
)
from airflow_provider_bc.client.lookup import Lookup
from airflow_provider_bc.client.settings import ClientSettings

__all__ = [
    "BusinessCentralAuthError",
    "BusinessCentralBadAnswerError",
    "BusinessCentralBadRequestError",
    "BusinessCentralConfigError",
    "BusinessCentralConnectionError",
    "BusinessCentralDestinationError",
    "BusinessCentralError",
    "BusinessCentralNotFoundError",
    "BusinessCentralPermissionError",
    "BusinessCentralQueryError",
    "BusinessCentralServerError",
    "BusinessCentralTLSError",
    "BusinessCentralThrottledError",
    "BusinessCentralTokenRejectedError",
    "BusinessCentralUnsafeLinkError",
    "ClientSettings",
    "Lookup",
]
