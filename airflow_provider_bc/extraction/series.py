"""What defines the data of an extraction: its source (where it reads) and its query; one hash of
both names the series whose runs continue from each other."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_bc.client.settings import ClientSettings


def source_of(settings: ClientSettings) -> dict[str, str]:
    """The Business Central a client reads: API host, tenant, environment (none on-premises) and route."""
    return {
        "host": settings.api_host.rstrip("/").lower(),
        "tenant": settings.tenant_id.lower(),
        "environment": "" if settings.on_premises else settings.environment.lower(),
        "api_route": settings.api_route.lower(),
    }


def series_id(source: dict[str, str], query: dict[str, Any]) -> str:
    """The id of the series of runs of ``query`` against ``source`` (every field counts)."""
    key = json.dumps({"source": source, "query": query}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]
