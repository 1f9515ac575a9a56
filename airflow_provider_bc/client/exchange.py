"""What a GET sends and how its answer is read: shared by the sync and async clients.

The clients only do the I/O: they send :attr:`Exchange.url`, :attr:`Exchange.params` and
:meth:`Exchange.headers`, and hand the answer to :meth:`Exchange.outcome`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any, Final

from airflow_provider_bc import __version__
from airflow_provider_bc.client.errors import (
    BusinessCentralNotFoundError,
    BusinessCentralServerError,
    error_from_response,
)
from airflow_provider_bc.client.queries import Query
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.urls import ApiUrls

USER_AGENT: Final = f"airflow-provider-business-central/{__version__}"
MAX_PAGE_SIZE: Final = 20_000
#: 404 codes saying the record asked for does not exist; any other 404 (an unknown company,
#: environment, entity set or route, or a gateway's page) stays an error even for lookups
ENTITY_MISSING_CODES: Final = frozenset({"Internal_RecordNotFound"})


class RefreshToken:
    """Outcome of a 401 on the first attempt: drop the cached token and send once more."""


REFRESH_TOKEN: Final = RefreshToken()


class Exchange:
    """One GET to the API: its URL, parameters and headers, and the reading of its answer."""

    def __init__(self, settings: ClientSettings, urls: ApiUrls, query: Query, *, page_size: int | None = None) -> None:
        if page_size is not None and not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size!r}")
        self.url = urls.pin_to_origin(query.url)
        self.params = dict(query.params) or None
        self.missing_ok = query.missing_ok
        self.client_request_id = str(uuid.uuid4())
        self.context = f"{query.context} in environment {settings.environment!r}"
        self._static_headers = {"client-request-id": self.client_request_id}
        if page_size is not None:
            self._static_headers["Prefer"] = f"odata.maxpagesize={page_size}"
        if settings.read_only_intent:
            self._static_headers["Data-Access-Intent"] = "ReadOnly"
        self._attempts = 0

    def headers(self, token: str) -> dict[str, str]:
        """Headers for the next attempt, carrying ``token`` as the bearer."""
        self._attempts += 1
        return {**self._static_headers, "Authorization": f"Bearer {token}"}

    def outcome(self, status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any] | RefreshToken:
        """The parsed JSON body on success, :data:`REFRESH_TOKEN` on a first 401, else raise.

        A missing entity answers ``{"value": []}`` when the query allows it (``missing_ok``).
        """
        if status == 401 and self._attempts == 1:
            return REFRESH_TOKEN
        if not 200 <= status < 300:
            error = error_from_response(
                status, headers, body, url=self.url, client_request_id=self.client_request_id, context=self.context
            )
            missing_entity = isinstance(error, BusinessCentralNotFoundError) and error.code in ENTITY_MISSING_CODES
            if self.missing_ok and missing_entity:
                return {"value": []}
            raise error
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise BusinessCentralServerError(
                f"{self.context}: Business Central answered HTTP {status} with a body that is not a JSON object "
                f"({len(body)} bytes, starting {body[:80]!r})",
                status=status,
                request_id=headers.get("Request-Id"),
                correlation_id=headers.get("ms-correlation-x"),
                client_request_id=self.client_request_id,
                url=self.url,
            )
        return payload
