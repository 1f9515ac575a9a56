"""Scripted faults: "the next N matching requests answer like this" (errors, drops, broken bodies)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from .asgi import Reply
from .entra import EntraError, entra_error_reply
from .errors import ApiError, bc_headers, error_reply
from .routes import ENTRA_ROUTES, ROUTE_NAMES

# Per injectable status: BC error code and message, Entra error and AADSTS code.
STATUS_FAULTS = {
    401: ("Authentication_InvalidCredentials", "The credentials provided are incorrect", "invalid_client", 7000215),
    429: ("Application_TooManyRequests", "Too many requests reached.", "temporarily_unavailable", 90033),
    500: ("Internal_ServerError", "An unexpected error occurred on the server.", "server_error", 90033),
    502: ("Internal_ServiceUnavailable", "Bad gateway.", "temporarily_unavailable", 90033),
    503: ("Internal_ServiceUnavailable", "The service is temporarily unavailable.", "temporarily_unavailable", 90033),
    504: ("Internal_GatewayTimeout", "The request timed out at the gateway.", "temporarily_unavailable", 90033),
}
DROP, CUT, INVALID_JSON, HTML, NEXT_LINK = "drop", "cut", "invalid_json", "html", "next_link"
KINDS = frozenset({*map(str, STATUS_FAULTS), DROP, CUT, INVALID_JSON, HTML, NEXT_LINK})
#: kinds that alter the real answer instead of replacing it
REAL_ANSWER_KINDS = frozenset({CUT, NEXT_LINK})
TRUNCATED_BODY = b'{"@odata.context":"$metadata#companies","value":[{"@odata.etag":"W/\\"JzQ0O2Zy'
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 - Web server "
    b"received an invalid response while acting as a gateway or proxy server.</h1></body></html>"
)


@dataclass
class Fault:
    """A fault answering the next ``count`` requests that match route, method and path substring.

    ``next_link`` (kind ``next_link`` only): the real answer, with its ``@odata.nextLink`` replaced.
    """

    kind: str
    count: int = 1
    route: str | None = None
    method: str | None = None
    path_contains: str | None = None
    retry_after: int | None = None
    next_link: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build a fault from the control API's JSON, rejecting unknown kinds and fields."""
        try:
            fault = cls(**{**data, "kind": str(data.get("kind"))})
        except TypeError as exc:
            raise ValueError(f"unknown fault field: {exc}") from exc
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; known: {sorted(KINDS)}")
        if fault.route is not None and fault.route not in ROUTE_NAMES:
            raise ValueError(f"unknown route {fault.route!r}; known: {sorted(ROUTE_NAMES)}")
        if not isinstance(fault.count, int) or fault.count < 1:
            raise ValueError("count must be a positive integer")
        if fault.retry_after is not None and (not isinstance(fault.retry_after, int) or fault.retry_after < 0):
            raise ValueError("retry_after must be a non-negative integer")
        if (fault.kind == NEXT_LINK) != isinstance(fault.next_link, str):
            raise ValueError("next_link (a URL) goes with, and only with, the fault kind 'next_link'")
        return fault

    def matches(self, route: str, method: str, target: str) -> bool:
        """Whether a request (route name, method, path with query) is one this fault answers."""
        return (
            self.route in (None, route)
            and (self.method is None or self.method.upper() == method)
            and (self.path_contains is None or self.path_contains in target)
        )

    def rewrite(self, reply: Reply) -> Reply:
        """A ``next_link`` fault applied to the real answer of a collection request."""
        if reply.status == 200 and self.next_link is not None:
            page = json.loads(reply.body)
            page["@odata.nextLink"] = self.next_link
            reply.body = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
        return reply

    def reply(self, route: str, correlation_id: str) -> Reply:
        """The answer replacing the real one (faults other than ``drop``, ``cut`` and ``next_link``)."""
        if self.kind == HTML:
            return Reply(502, HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"})
        if self.kind == INVALID_JSON:
            return Reply(200, TRUNCATED_BODY, bc_headers(correlation_id))
        status = int(self.kind)
        retry = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        code, message, entra_error, entra_code = STATUS_FAULTS[status]
        if route in ENTRA_ROUTES:
            reply = entra_error_reply(EntraError(status, entra_error, entra_code, message), correlation_id)
            reply.headers.update(retry)
            return reply
        return error_reply(ApiError(status, code, message, retry), correlation_id)


class FaultScript:
    """The pending faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` behind the ones already pending."""
        self.pending.append(fault)

    def take(self, route: str, method: str, target: str) -> Fault | None:
        """The first pending fault matching this request, using up one of its count."""
        for fault in self.pending:
            if fault.matches(route, method, target):
                fault.count -= 1
                if fault.count == 0:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        self.pending.clear()

    def describe(self) -> list[dict[str, Any]]:
        """The pending faults as JSON-ready dicts."""
        return [asdict(fault) for fault in self.pending]
