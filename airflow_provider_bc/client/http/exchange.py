"""What a request sends and how its answer is read: shared by the sync and async clients.

The clients only do the I/O: they send :attr:`Exchange.method`, :attr:`Exchange.url`,
:attr:`Exchange.params`, :meth:`Exchange.headers` and :attr:`Exchange.body`, and hand the
:class:`Answer` to :meth:`Exchange.read`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, TypeVar

from airflow_provider_bc import __version__
from airflow_provider_bc.client.errors import (
    BusinessCentralAuthError,
    BusinessCentralBadAnswerError,
    BusinessCentralNotFoundError,
    BusinessCentralQueryError,
    error_from_response,
)
from airflow_provider_bc.client.odata.exact_numbers import loads_exact
from airflow_provider_bc.client.odata.queries import Query
from airflow_provider_bc.client.settings import ClientSettings

Sent = TypeVar("Sent")
USER_AGENT: Final = f"airflow-provider-business-central/{__version__}"
MAX_PAGE_SIZE: Final = 20_000
#: 404 codes saying the record asked for does not exist; any other 404 (an unknown company,
#: environment, entity set or route, or a gateway's page) stays an error even for lookups
ENTITY_MISSING_CODES: Final = frozenset({"Internal_RecordNotFound"})


def is_entity_missing(error: Exception) -> bool:
    """Whether ``error`` says the entity asked for does not exist (yet), and nothing else is wrong."""
    return isinstance(error, BusinessCentralNotFoundError) and error.code in ENTITY_MISSING_CODES


@dataclass(frozen=True)
class Answer:
    """A complete HTTP answer: status, headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Exchange:
    """One request to the API (a GET, or a POST when the query has a body): what it sends, and the
    reading of its answer."""

    def __init__(self, settings: ClientSettings, query: Query, *, page_size: int | None = None) -> None:
        if page_size is not None and not 1 <= page_size <= MAX_PAGE_SIZE:
            raise BusinessCentralQueryError("page_size", f"must be between 1 and {MAX_PAGE_SIZE}, got {page_size!r}")
        self.method = "GET" if query.body is None else "POST"
        self.url = query.url
        self.params = dict(query.params) or None
        self.missing_ok = query.missing_ok
        self._decode: Callable[[bytes], Any] = query.decode or (loads_exact if query.exact_numbers else json.loads)
        self.document = query.document
        self.client_request_id = str(uuid.uuid4())
        self.context = f"{query.context} in environment {settings.environment!r}"
        self.body = query.body
        self._static_headers = {"client-request-id": self.client_request_id, **query.headers}
        if page_size is not None:
            self._static_headers["Prefer"] = f"odata.maxpagesize={page_size}"
        if settings.read_only_intent:
            self._static_headers["Data-Access-Intent"] = "ReadOnly"
        self._basic = settings.auth_type == "basic"
        self._user = settings.client_id

    def headers(self, token: str) -> dict[str, str]:
        """Headers for the next attempt, carrying ``token`` (a bearer token, or Basic credentials)."""
        return {**self._static_headers, "Authorization": f"{'Basic' if self._basic else 'Bearer'} {token}"}

    def attempt(self, send: Callable[..., Sent], token: str) -> Callable[[], Sent]:
        """A transport's ``send`` bound to this request (method, URL, parameters, body) and the
        headers of an attempt with ``token``."""
        return partial(send, self.method, self.url, self.params, self.headers(token), self.body)

    def read(self, answer: Answer) -> dict[str, Any]:
        """The answer's JSON object, or the typed error it amounts to (raised).

        A missing entity reads as ``{"value": []}`` when the query allows it (``missing_ok``).
        """
        if answer.status == 401 and self._basic:  # no token to renew: the user name or the key is wrong
            raise BusinessCentralAuthError(
                f"{self.context}: Business Central (on-premises) refused user {self._user!r} (HTTP 401): check the "
                "connection's login (the Business Central user name) and password (the user's Web Service "
                "Access Key, not the Windows password), and that the key has not expired",
                status=401,
                url=self.url,
                client_request_id=self.client_request_id,
            )
        if not 200 <= answer.status < 300:
            error = error_from_response(
                answer.status,
                answer.headers,
                answer.body,
                url=self.url,
                client_request_id=self.client_request_id,
                context=self.context,
            )
            if self.missing_ok and is_entity_missing(error):
                return {"value": []}
            raise error
        content_type = answer.headers.get("Content-Type", "")
        payload: Any = None
        problem = ""
        if self.document and "xml" in content_type.lower():
            payload = {"document": answer.body.decode("utf-8", errors="replace")}
        elif "json" in content_type.lower():
            try:
                payload = self._decode(answer.body)
            except (ValueError, RecursionError) as error:  # UnicodeDecodeError included; nesting past the limit
                problem = f"{error}; "
        if not isinstance(payload, dict):
            raise BusinessCentralBadAnswerError(
                f"{self.context}: Business Central answered HTTP {answer.status} ({content_type or 'no content type'}) "
                f"with a body that is not a JSON object ({problem}{len(answer.body)} bytes, "
                f"starting {answer.body[:80]!r})",
                status=answer.status,
                request_id=answer.headers.get("Request-Id"),
                correlation_id=answer.headers.get("ms-correlation-x"),
                client_request_id=self.client_request_id,
                url=self.url,
            )
        return payload
