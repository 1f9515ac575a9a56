"""Business Central API v2.0 client: pure Python, no Airflow import.

The Airflow hook, operators, sensors and triggers are thin layers over it; it also serves plain
Python (scripts, notebooks, tests). Its layers, each importing only those below it (checked by
``lint-imports``):

* :mod:`.client`, :mod:`.async_client`: the sync and async clients, which only do the I/O;
* :mod:`.batch` (``$batch`` reads) and :mod:`.auth` (tokens);
* :mod:`.http`: one request on the wire, its retry decisions and the principal's governor;
* :mod:`.odata`: URLs, filters, queries, lookups, pages;
* :mod:`.settings`, :mod:`.credentials`, :mod:`.entity_sets`, :mod:`.errors`: the shared vocabulary.

The names below load on first use, so a DAG file importing :mod:`.entity_sets` pays for nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_bc.client.errors import (
        BusinessCentralAuthError,
        BusinessCentralBadAnswerError,
        BusinessCentralBadRequestError,
        BusinessCentralConfigError,
        BusinessCentralConnectionError,
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
    from airflow_provider_bc.client.odata.lookup import Lookup
    from airflow_provider_bc.client.settings import ClientSettings

__all__ = [
    "BusinessCentralAuthError",
    "BusinessCentralBadAnswerError",
    "BusinessCentralBadRequestError",
    "BusinessCentralConfigError",
    "BusinessCentralConnectionError",
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
#: where the names that are not errors live
_HOMES = {"ClientSettings": "airflow_provider_bc.client.settings", "Lookup": "airflow_provider_bc.client.odata.lookup"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES.get(name, "airflow_provider_bc.client.errors")), name)
