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
        retry_after: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.client_request_id = client_request_id
        self.url = url
        #: the answer's ``Retry-After`` header, as sent (seconds or an HTTP date)
        self.retry_after = retry_after
        #: how many attempts the request made before this error was raised (set by the retry loop)
        self.attempts: int | None = None
        super().__init__(self._render())

    def after_attempts(self, attempts: int, reason: str | None = None) -> BusinessCentralError:
        """Record that the request gave up after ``attempts`` attempts (and why), in the message too."""
        self.attempts = attempts
        if reason:
            self.message = f"{self.message}; {reason}"
        self.args = (self._render(),)
        return self

    def _render(self) -> str:
        details = [
            f"{label}={value}"
            for label, value in (
                ("status", self.status),
                ("code", self.code),
                ("url", self.url),
                ("attempts", self.attempts),
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


class BusinessCentralQueryError(BusinessCentralBadRequestError, ValueError):
    """An argument of a read (entity set, id, filter, select, top) is malformed; nothing was sent.

    ``field`` names the argument. Fix the task's arguments: retrying cannot help.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class BusinessCentralAuthError(BusinessCentralError):
    """401, or Entra refused the credentials: wrong client id, secret, tenant or scope."""


class BusinessCentralTokenRejectedError(BusinessCentralAuthError):
    """401 from the API: the bearer token was refused (expired or revoked); one new token is tried."""


class BusinessCentralPermissionError(BusinessCentralError):
    """403: authenticated, but the app lacks a permission set in Business Central."""


class BusinessCentralNotFoundError(BusinessCentralError):
    """404: the environment, company or entity does not exist."""


class BusinessCentralThrottledError(BusinessCentralError):
    """429/502/503/504 still answered after every retry allowed."""

    transient = True


class BusinessCentralServerError(BusinessCentralError):
    """500, 408 or another 5xx: the server failed this request (not retried at once; a later try may work)."""

    transient = True


class BusinessCentralBadAnswerError(BusinessCentralServerError):
    """An answer that is not what Business Central sends: an HTML page, a cut or empty body, a wrong
    content type, a page without a list of entities, a nextLink that repeats (often a proxy)."""


class BusinessCentralConnectionError(BusinessCentralError):
    """No answer: connection refused or dropped, or timeout, after retries."""

    transient = True


class BusinessCentralTLSError(BusinessCentralError):
    """The server's TLS certificate was not trusted: a wrong ``verify`` CA bundle, or interception."""


class BusinessCentralUnsafeLinkError(BusinessCentralError):
    """A link from the server (nextLink, redirect) points off the configured API origin: not followed."""


def _error_class(status: int) -> type[BusinessCentralError]:
    if status in THROTTLING_STATUSES:
        return BusinessCentralThrottledError
    if status == 400:
        return BusinessCentralBadRequestError
    if status == 401:
        return BusinessCentralTokenRejectedError
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
    if 300 <= status < 400:
        location = headers.get("Location") or "nowhere"
        bc_message = f"a redirect to {location[:200]!r}, which is not followed (check the connection's host)"
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
        retry_after=headers.get("Retry-After"),
    )
