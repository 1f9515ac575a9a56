"""``POST {root}/$batch``: Business Central's JSON batch format, its limit and how it is counted.

The request is ``{"requests": [{"id", "method", "url", "headers"?, "body"?}, ...]}`` (``url`` relative
to the service root, an absolute path or an absolute URL); the answer, 200 once the body is read, is
``{"responses": [{"id", "status", "headers", "body"}, ...]}`` in the order of the requests, each
operation answered as the same request sent alone would be (its headers lower-case).

What the emulator chose, and why:

* More than :data:`MAX_OPERATIONS` operations: 400 with the error Business Central is reported to
  send (code ``Unknown``, "The current batch message contains too many parts..."); so is a body that
  is not such JSON, or two operations with one id (400 ``BadRequest``). Nothing of it is run.
* Without ``Prefer: odata.continue-on-error`` the operations after the first failed one (status 400
  or more) are not run and have no answer, as Business Central does; with it, every operation is
  answered and ``Preference-Applied: odata.continue-on-error`` says so.
* Limits: the batch takes one of the principal's processing slots (BC runs its operations one after
  another in one session), and ``latency`` is added once per HTTP request; each *operation* counts
  one request against the principal's rate window (an empty batch counts one). Microsoft does not
  document how a batch is counted; counting its operations is the stricter reading, so a client
  that stays within the limits here stays within them on Business Central whichever way BC counts.
  A batch arriving at a full window is refused whole (429, as any request); one with room for only
  some operations runs those and answers the rest 429 ``Application_TooManyRequests`` with a
  ``retry-after``.
* Faults (:mod:`.faults`) of the kinds in :data:`.faults.OPERATION_KINDS` (statuses, ``value``,
  ``next_link``) answer an operation as they would the request sent alone, matched on the
  operation's route, method and URL; a fault on the route ``$batch`` answers the whole request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from .asgi import Reply, Request
from .bc_api import BusinessCentralApi
from .errors import ODATA_JSON, ApiError, error_reply, no_resource
from .faults import OPERATION_KINDS, FaultScript
from .routes import BATCH, ENTRA_ROUTES, Route, resolve
from .stats import OperationRecord

MAX_OPERATIONS = 100
CONTINUE_ON_ERROR = "odata.continue-on-error"
TOO_MANY_PARTS = (
    "The current batch message contains too many parts. A maximum number of '100' query operations and "
    "change sets are allowed in a batch message."
)
_OUTER_HEADERS = frozenset({"request-id", "ms-correlation-x"})  # the batch's own, not an operation's


@dataclass
class BatchReply(Reply):
    """The answer to a ``$batch``, with a record of each operation answered (for the counters)."""

    operations: tuple[OperationRecord, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Operation:
    """One operation of a ``$batch``: its id and the request it stands for."""

    id: str
    request: Request


def _bad_batch(problem: str) -> ApiError:
    return ApiError(400, "BadRequest", f"The batch request is malformed: {problem}")


def _operation(entry: object, root: str, base_url: str) -> Operation:
    """One entry of ``requests`` as the request it stands for."""
    if not isinstance(entry, dict):
        raise _bad_batch(f"each request must be a JSON object, not {entry!r}")
    op_id, method, url, headers = (entry.get(name) for name in ("id", "method", "url", "headers"))
    headers = {} if headers is None else headers
    if not isinstance(op_id, str) or not op_id:
        raise _bad_batch(f"each request needs an id (text), not {op_id!r}")
    if not isinstance(method, str) or not isinstance(url, str):
        raise _bad_batch(f"request {op_id!r} needs a method and a url (text)")
    if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
        raise _bad_batch(f"the headers of request {op_id!r} must be an object of texts")
    absolute = url.startswith("/") or url.lower().startswith(base_url.lower() + "/")
    parts = urlsplit(url if absolute else f"{root}/{url}")
    body = b"" if entry.get("body") is None else json.dumps(entry["body"]).encode()
    request = Request(
        method=method.upper(),
        path=unquote(parts.path),
        query_string=parts.query,
        headers={name.lower(): value for name, value in headers.items()},
        body=body,
    )
    return Operation(op_id, request)


def read_batch(request: Request, route: Route, base_url: str) -> list[Operation]:
    """The operations of a ``$batch`` request, or the :class:`ApiError` refusing it (400; 405 unless a POST)."""
    if request.method != "POST":
        raise ApiError(405, "BadRequest_MethodNotAllowed", f"The '{request.method}' method is not allowed.")
    try:
        body = json.loads(request.body)
    except ValueError:
        raise _bad_batch("the body is not JSON") from None
    entries = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise _bad_batch('the body must be a JSON object with a "requests" array')
    if len(entries) > MAX_OPERATIONS:
        raise ApiError(400, "Unknown", TOO_MANY_PARTS)
    operations = [_operation(entry, route.root, base_url) for entry in entries]
    if len({operation.id for operation in operations}) < len(operations):
        raise _bad_batch("two requests have the same id")
    return operations


def continue_on_error(request: Request) -> bool:
    """Whether the request's ``Prefer`` asks to run every operation whatever fails."""
    for preference in request.headers.get("prefer", "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() in (CONTINUE_ON_ERROR, "continue-on-error"):
            return value.strip().lower() != "false"
    return False


class BatchRunner:
    """Runs the operations of a ``$batch`` on the API, with the faults that apply to them."""

    def __init__(self, api: BusinessCentralApi, faults: FaultScript) -> None:
        self.api = api
        self.faults = faults

    def answer(
        self,
        request: Request,
        operations: list[Operation],
        admitted: int,
        over_rate: Callable[[], ApiError],
        correlation_id: str,
    ) -> BatchReply:
        """Run the first ``admitted`` operations (the rest: the 429 of ``over_rate``), in order, until
        one fails unless the request asks to continue on error."""
        go_on = continue_on_error(request)
        responses: list[dict[str, Any]] = []
        records: list[OperationRecord] = []
        for index, operation in enumerate(operations):
            route = resolve(operation.request.path)
            reply = (
                self._run(route, operation.request, correlation_id)
                if index < admitted
                else error_reply(over_rate(), correlation_id)
            )
            responses.append(_response(operation.id, reply))
            records.append(
                OperationRecord(
                    operation.id, operation.request.method, operation.request.target, route.name, reply.status
                )
            )
            if reply.status >= 400 and not go_on:
                break
        body = json.dumps({"responses": responses}, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Preference-Applied": CONTINUE_ON_ERROR} if go_on else {}
        return BatchReply(200, body, headers, tuple(records))

    def _run(self, route: Route, request: Request, correlation_id: str) -> Reply:
        """The answer of one operation: a fault's, or the API's."""
        fault = self.faults.take(route.name, request.method, request.target, OPERATION_KINDS)
        if fault is not None and fault.kind.isdigit():
            return fault.reply(route.name, correlation_id)
        try:
            if route.name in ENTRA_ROUTES or route.name in ("other", BATCH):
                raise no_resource(f"{self.api.base_url}{request.path}")
            reply = self.api.answer(route, request)
        except ApiError as exc:
            return error_reply(exc, correlation_id)
        reply.headers = {"Content-Type": ODATA_JSON, "OData-Version": "4.0", **reply.headers}
        return reply if fault is None else fault.rewrite(reply)


def _response(op_id: str, reply: Reply) -> dict[str, Any]:
    """An operation's entry of ``responses``: its status, headers (lower-case) and body."""
    headers = {name.lower(): value for name, value in reply.headers.items() if name.lower() not in _OUTER_HEADERS}
    response: dict[str, Any] = {"id": op_id, "status": reply.status, "headers": headers}
    if reply.body:
        json_body = "json" in headers.get("content-type", "")
        response["body"] = json.loads(reply.body) if json_body else reply.body.decode("utf-8", "replace")
    return response
