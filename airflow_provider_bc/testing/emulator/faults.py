"""Scripted faults: "the next N matching requests answer like this" (errors, drops, broken bodies)."""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from .asgi import JSON_TYPE, Reply
from .entra_errors import EntraError, entra_error_reply
from .errors import ApiError, bc_headers, error_reply
from .routes import ENTRA_ROUTES, ROUTE_NAMES


class StatusFault(NamedTuple):
    """How one injectable status answers: BC error code and message; Entra error, AADSTS code, text."""

    code: str
    message: str
    entra_error: str
    entra_code: int
    entra_message: str | None = None  # the token endpoint's text, when the BC message does not fit there


STATUS_FAULTS = {
    401: StatusFault(
        "Authentication_InvalidCredentials", "The credentials provided are incorrect", "invalid_client", 7000215
    ),
    403: StatusFault(
        "Authorization_InsufficientPermissions",
        "You do not have the following permissions on TableData Item Ledger Entry: Read.",
        "access_denied",
        501051,
        "Application is not assigned to a role for the application 'https://api.businesscentral.dynamics.com'.",
    ),
    429: StatusFault("Application_TooManyRequests", "Too many requests reached.", "temporarily_unavailable", 90033),
    500: StatusFault("Internal_ServerError", "An unexpected error occurred on the server.", "server_error", 90033),
    502: StatusFault("Internal_ServiceUnavailable", "Bad gateway.", "temporarily_unavailable", 90033),
    503: StatusFault(
        "Internal_ServiceUnavailable", "The service is temporarily unavailable.", "temporarily_unavailable", 90033
    ),
    504: StatusFault(
        "Internal_GatewayTimeout", "The request timed out at the gateway.", "temporarily_unavailable", 90033
    ),
}
DROP, CUT, INVALID_JSON, HTML, NEXT_LINK = "drop", "cut", "invalid_json", "html", "next_link"
HTML_200 = "html_200"  # a 200 HTML page: a captive portal's or a proxy's sign-in page
STALL, SLOW_BODY, EMPTY = "stall", "slow_body", "empty"
CONTENT_TYPE, REDIRECT, VALUE = "content_type", "redirect", "value"
#: kinds that replace the real answer ("drop": no answer at all)
REPLACING_KINDS = frozenset({*map(str, STATUS_FAULTS), DROP, INVALID_JSON, HTML, HTML_200, EMPTY, REDIRECT})
#: kinds that alter (or delay) the real answer instead of replacing it
REAL_ANSWER_KINDS = frozenset({CUT, NEXT_LINK, STALL, SLOW_BODY, CONTENT_TYPE, VALUE})
KINDS = REPLACING_KINDS | REAL_ANSWER_KINDS
#: kinds that also answer an operation inside a ``$batch`` (the others need a request of its own)
OPERATION_KINDS = frozenset({*map(str, STATUS_FAULTS), NEXT_LINK, VALUE})
#: kinds that take a ``delay``
DELAYED_KINDS = frozenset({STALL, SLOW_BODY})
DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"
TRUNCATED_BODY = b'{"@odata.context":"$metadata#companies","value":[{"@odata.etag":"W/\\"JzQ0O2Zy'
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 - Web server "
    b"received an invalid response while acting as a gateway or proxy server.</h1></body></html>"
)
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]+")  # what an HTTP header value may hold (latin-1)


class _NotGiven(enum.Enum):
    NOT_GIVEN = "not given"


#: ``Fault.value`` when the fault has no ``value`` (JSON ``null`` is a value: ``None``)
NOT_GIVEN = _NotGiven.NOT_GIVEN


def _check_header(name: str, value: Any) -> None:
    if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
        raise ValueError(f"{name} must be a non-empty string without control characters, not {value!r}")


def _is_json(reply: Reply) -> bool:
    return reply.headers.get("Content-Type", "").startswith("application/json")


@dataclass
class Fault:
    """A fault answering the next ``count`` requests that match route, method and path substring.

    Fields that only some kinds take (each refused with any other kind):

    * ``retry_after`` (status kinds): ``Retry-After`` header, whole seconds or a string sent verbatim.
    * ``next_link`` (``next_link``): the real answer, with its ``@odata.nextLink`` replaced.
    * ``delay`` (``stall``, ``slow_body``, required): seconds the answer, or the second half of its body,
      is held back.
    * ``content_type`` (``content_type``): the real answer's new Content-Type (default: HTML).
    * ``location`` (``redirect``, required): the ``Location`` of the 302.
    * ``value`` (``value``, required): any JSON value (``null`` too) replacing a collection's ``value``;
      :data:`NOT_GIVEN` when absent from the JSON.
    """

    kind: str
    count: int = 1
    route: str | None = None
    method: str | None = None
    path_contains: str | None = None
    retry_after: int | str | None = None
    next_link: str | None = None
    delay: float | None = None
    content_type: str | None = None
    location: str | None = None
    value: Any = NOT_GIVEN

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build a fault from the control API's JSON, rejecting unknown kinds and fields.

        A field given as ``null`` counts as not given, except ``value``, where ``null`` is the value.
        """
        try:
            fault = cls(**{**data, "kind": str(data.get("kind"))})
        except TypeError as exc:
            raise ValueError(f"unknown fault field: {exc}") from exc
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; known: {sorted(KINDS)}")
        if fault.route is not None and fault.route not in ROUTE_NAMES:
            raise ValueError(f"unknown route {fault.route!r}; known: {sorted(ROUTE_NAMES)}")
        if isinstance(fault.count, bool) or not isinstance(fault.count, int) or fault.count < 1:
            raise ValueError("count must be a positive integer")
        fault._check_retry_after()
        if (fault.kind == NEXT_LINK) != isinstance(fault.next_link, str):
            raise ValueError("next_link (a URL) goes with, and only with, the fault kind 'next_link'")
        fault._check_delay()
        if fault.content_type is not None and fault.kind != CONTENT_TYPE:
            raise ValueError("content_type goes only with the fault kind 'content_type'")
        if fault.kind == CONTENT_TYPE:
            fault.content_type = DEFAULT_CONTENT_TYPE if fault.content_type is None else fault.content_type
            _check_header("content_type", fault.content_type)
        if (fault.kind == REDIRECT) != (fault.location is not None):
            raise ValueError("location (a URL) goes with, and only with, the fault kind 'redirect'")
        if fault.location is not None:
            _check_header("location", fault.location)
        if (fault.kind == VALUE) != (fault.value is not NOT_GIVEN):
            raise ValueError("value (any JSON value, null too) goes with, and only with, the fault kind 'value'")
        return fault

    def _check_retry_after(self) -> None:
        if self.retry_after is None:
            return
        if not self.kind.isdigit():
            raise ValueError("retry_after goes only with a status fault (401, 403, 429, 500, 502, 503, 504)")
        if isinstance(self.retry_after, str):
            _check_header("retry_after", self.retry_after)
        elif isinstance(self.retry_after, bool) or not isinstance(self.retry_after, int) or self.retry_after < 0:
            raise ValueError("retry_after must be a non-negative integer (seconds) or a string sent verbatim")

    def _check_delay(self) -> None:
        if (self.kind in DELAYED_KINDS) != (self.delay is not None):
            raise ValueError("delay (seconds) goes with, and only with, the fault kinds 'stall' and 'slow_body'")
        if self.delay is None:
            return
        if isinstance(self.delay, bool) or not isinstance(self.delay, int | float) or not math.isfinite(self.delay):
            raise ValueError(f"delay must be a number of seconds, not {self.delay!r}")
        if self.delay < 0:
            raise ValueError("delay must not be negative")
        self.delay = float(self.delay)

    def matches(self, route: str, method: str, target: str) -> bool:
        """Whether a request (route name, method, path with query) is one this fault answers."""
        return (
            self.route in (None, route)
            and (self.method is None or self.method.upper() == method)
            and (self.path_contains is None or self.path_contains in target)
        )

    def rewrite(self, reply: Reply) -> Reply:
        """Apply a ``next_link``, ``value`` or ``content_type`` fault to the real answer (others: as is).

        ``next_link`` and ``value`` change only 200 JSON answers (``value`` only those of a collection).
        """
        if self.kind == CONTENT_TYPE and self.content_type is not None:
            reply.headers = {name: v for name, v in reply.headers.items() if name.lower() != "content-type"}
            reply.headers["Content-Type"] = self.content_type
        elif self.kind in (NEXT_LINK, VALUE) and reply.status == 200 and _is_json(reply):
            page = json.loads(reply.body)
            if self.kind == NEXT_LINK:
                page["@odata.nextLink"] = self.next_link
            elif isinstance(page, dict) and "value" in page:
                page["value"] = self.value
            reply.body = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
        return reply

    def reply(self, route: str, correlation_id: str) -> Reply:
        """The answer replacing the real one (the kinds not in :data:`REAL_ANSWER_KINDS`, except ``drop``)."""
        entra = route in ENTRA_ROUTES
        if self.kind in (HTML, HTML_200):
            return Reply(502 if self.kind == HTML else 200, HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"})
        if self.kind == INVALID_JSON:
            return Reply(200, TRUNCATED_BODY, bc_headers(correlation_id))
        if self.kind == EMPTY:
            headers = (
                {"Content-Type": JSON_TYPE, "Cache-Control": "no-store", "client-request-id": correlation_id}
                if entra
                else bc_headers(correlation_id)
            )
            return Reply(200, b"", headers)
        if self.kind == REDIRECT:
            return Reply(302, b"", {"Location": str(self.location)})
        status = int(self.kind)
        retry = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        fault = STATUS_FAULTS[status]
        if entra:
            error = EntraError(status, fault.entra_error, fault.entra_code, fault.entra_message or fault.message)
            reply = entra_error_reply(error, correlation_id)
            reply.headers.update(retry)
            return reply
        return error_reply(ApiError(status, fault.code, fault.message, retry), correlation_id)


class FaultScript:
    """The pending faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` behind the ones already pending."""
        self.pending.append(fault)

    def take(self, route: str, method: str, target: str, kinds: frozenset[str] = KINDS) -> Fault | None:
        """The first pending fault of one of ``kinds`` matching this request, using up one of its count."""
        for fault in self.pending:
            if fault.kind in kinds and fault.matches(route, method, target):
                fault.count -= 1
                if fault.count == 0:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        self.pending.clear()

    def describe(self) -> list[dict[str, Any]]:
        """The pending faults as JSON-ready dicts (``value`` only where given)."""
        described = []
        for fault in self.pending:
            fields = asdict(fault)
            if fields["value"] is NOT_GIVEN:
                del fields["value"]
            described.append(fields)
        return described
