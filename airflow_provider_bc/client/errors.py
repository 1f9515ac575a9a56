"""Typed errors: a Business Central (or Entra) answer turned into an exception a person can act on.

Messages carry the HTTP status, BC's error code and message, and the ids a support case needs
(``Request-Id``, the correlation id and our ``client-request-id``); never a secret or a token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_CORRELATION_ID = re.compile(r"CorrelationId:\s*([0-9A-Fa-f-]{36})")
THROTTLING_STATUSES = frozenset({429, 502, 503, 504})


class BusinessCentralError(Exception):
    """A request to Business Central failed; carries status, BC error code, and trace ids."""

    #: whether waiting and asking again may succeed (throttling, outages, dropped connections)
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        client_request_id: str | None = None,
        url: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.client_request_id = client_request_id
        self.url = url
        super().__init__(self._render())

    def _render(self) -> str:
        details = [
            f"{label}={value}"
            for label, value in (
                ("status", self.status),
                ("code", self.code),
                ("url", self.url),
                ("request_id", self.request_id),
                ("correlation_id", self.correlation_id),
                ("client_request_id", self.client_request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message


class BusinessCentralConfigError(BusinessCentralError, ValueError):
    """A setting is missing or malformed; ``field`` names it, ``source`` says where it came from."""

    def __init__(self, field: str, problem: str, *, source: str | None = None) -> None:
        self.field = field
        self.source = source
        where = f" of {source}" if source else ""
        super().__init__(f"Business Central setting {field!r}{where}: {problem}")


class BusinessCentralBadRequestError(BusinessCentralError):
    """400: the request (filter, select, key, URL) was rejected as malformed."""


class BusinessCentralAuthError(BusinessCentralError):
    """401, or Entra refused the credentials: wrong client id, secret, tenant or scope."""


class BusinessCentralPermissionError(BusinessCentralError):
    """403: authenticated, but the app lacks a permission set in Business Central."""


class BusinessCentralNotFoundError(BusinessCentralError):
    """404: the environment, company or entity does not exist."""


class BusinessCentralThrottledError(BusinessCentralError):
    """429/502/503/504 still answered after every retry allowed."""

    transient = True


class BusinessCentralServerError(BusinessCentralError):
    """Any other 5xx, or a response that is not the JSON it should be."""

    transient = True


class BusinessCentralConnectionError(BusinessCentralError):
    """No answer: connection refused or dropped, or timeout, after retries."""

    transient = True


class BusinessCentralTLSError(BusinessCentralError):
    """The server's TLS certificate was not trusted: a wrong ``verify`` CA bundle, or interception."""


def _error_class(status: int) -> type[BusinessCentralError]:
    if status in THROTTLING_STATUSES:
        return BusinessCentralThrottledError
    if status == 400:
        return BusinessCentralBadRequestError
    if status == 401:
        return BusinessCentralAuthError
    if status == 403:
        return BusinessCentralPermissionError
    if status == 404:
        return BusinessCentralNotFoundError
    if status >= 500 or status == 408:  # 408: BC's 8-minute operation timeout
        return BusinessCentralServerError
    return BusinessCentralError


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    url: str,
    client_request_id: str | None = None,
    context: str | None = None,
) -> BusinessCentralError:
    """Build the typed error for a non-success answer from its status, headers and body."""
    code: str | None = None
    bc_message: str | None = None
    try:
        payload: Any = json.loads(body)
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            code = error.get("code")
            bc_message = error.get("message")
    except ValueError:
        pass
    if bc_message is None:
        snippet = body[:200].decode("utf-8", "replace").strip()
        bc_message = f"non-JSON answer: {snippet!r}" if snippet else "empty answer"
    found = _CORRELATION_ID.search(bc_message)
    correlation_id = headers.get("ms-correlation-x") or (found.group(1) if found else None)
    prefix = f"{context}: " if context else ""
    return _error_class(status)(
        f"{prefix}Business Central answered HTTP {status}: {bc_message}",
        status=status,
        code=code,
        request_id=headers.get("Request-Id"),
        correlation_id=correlation_id,
        client_request_id=client_request_id,
        url=url,
    )
