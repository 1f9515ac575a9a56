"""The emulator's ASGI application: control API, faults, Entra routes, then the BC API (and ``$batch``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Awaitable, Callable

from .asgi import (
    Receive,
    Reply,
    Request,
    Scope,
    Send,
    body_schedule,
    client_gone_within,
    drop_connection,
    json_reply,
    read_request,
    send_paced,
    send_reply,
)
from .batch import BatchReply, BatchRunner, read_batch
from .bc_api import BusinessCentralApi
from .control import control_reply
from .entra_errors import EntraError, entra_error_reply
from .errors import ApiError, bc_headers, error_reply, no_resource
from .faults import CUT, DROP, REAL_ANSWER_KINDS, SLOW_BODY, STALL, Fault
from .routes import BATCH, CONTROL_PREFIX, ENTRA_ROUTES, Route, resolve
from .state import EmulatorState
from .stats import DROPPED

Deliver = Callable[[Reply], Awaitable[None]]


class EmulatorApp:
    """ASGI callable serving one :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState, api: BusinessCentralApi) -> None:
        self.state = state
        self.api = api
        self.batches = BatchRunner(api, state.faults)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        if request.path.startswith(CONTROL_PREFIX):
            await send_reply(send, control_reply(self.state, request))
            return
        route = resolve(request.path)
        entra = route.name in ENTRA_ROUTES
        with contextlib.nullcontext() if entra else self.state.stats.flight():
            await self._serve(send, receive, request, route, entra)

    async def _serve(self, send: Send, receive: Receive, request: Request, route: Route, entra: bool) -> None:
        correlation_id = (request.headers.get("client-request-id") if entra else None) or str(uuid.uuid4())
        fault = self.state.faults.take(route.name, request.method, request.target)
        deliver = functools.partial(self._deliver, send, receive, request, route, fault)
        if fault is not None and fault.kind == DROP:
            self.state.stats.record(request, route.name, DROPPED)
            await drop_connection(send, receive)
        elif fault is not None and fault.kind not in REAL_ANSWER_KINDS:
            await deliver(fault.reply(route.name, correlation_id))
        elif entra:
            await deliver(self._entra(route, request, correlation_id))
        else:
            await self._business_central(route, request, correlation_id, deliver)

    async def _deliver(
        self, send: Send, receive: Receive, request: Request, route: Route, fault: Fault | None, reply: Reply
    ) -> None:
        """Count and send ``reply`` (changed by a real-answer ``fault``), the way a ``cut``, ``stall`` or
        ``slow_body`` fault says, a BC API answer's body at most at the configured bandwidth.

        A delayed answer is counted with its status when it is ready, before the delay, whether or not
        the client waits for it; a client that disconnects during a delay ends it (nothing more is sent).
        """
        reply = fault.rewrite(reply) if fault is not None else reply
        kind = fault.kind if fault is not None else None
        if kind == CUT:  # the real answer, cut off half-way through its body
            self.state.stats.record(request, route.name, DROPPED)
            await send_reply(send, reply, cut_at=len(reply.body) // 2)
            await drop_connection(send, receive)
            return
        self.state.stats.record(
            request, route.name, reply.status, reply.operations if isinstance(reply, BatchReply) else None
        )
        delay = fault.delay if fault is not None and fault.delay is not None else 0.0
        if kind == STALL and await client_gone_within(receive, delay):
            return
        bandwidth = 0 if route.name in ENTRA_ROUTES else self.state.config.bandwidth
        pause = (len(reply.body) // 2, delay) if kind == SLOW_BODY else None  # the second half after the delay
        await send_paced(send, receive, reply, body_schedule(len(reply.body), bandwidth, pause))

    def _entra(self, route: Route, request: Request, correlation_id: str) -> Reply:
        directory = self.state.directory
        tenant = route.tenant or ""
        try:
            if route.name == "discovery":
                return json_reply(200, directory.discovery(tenant))
            if request.method != "POST":
                raise EntraError(400, "invalid_request", 900561, "The endpoint only accepts POST requests.")
            headers = {"Cache-Control": "no-store", "client-request-id": correlation_id}
            return json_reply(200, directory.issue(tenant, request.body), headers)
        except EntraError as exc:
            return entra_error_reply(exc, correlation_id)

    async def _business_central(self, route: Route, request: Request, correlation_id: str, deliver: Deliver) -> None:
        """Answer in one of the principal's processing slots, held until the answer is sent (a body
        sent slowly keeps it busy, as BC streams the rows it reads); errors are answered outside.
        A ``$batch`` counts its operations in the rate window (:mod:`.batch`)."""
        try:
            if route.name == "other":
                raise no_resource(f"{self.api.base_url}{request.path}")
            principal = self.state.directory.authenticate(
                request.headers.get("authorization"), route.tenant, on_premises=route.on_premises
            )
            operations = read_batch(request, route, self.api.base_url) if route.name == BATCH else None
            admission = self.state.admission
            async with admission.slot(principal, max(1, len(operations or ()))) as admitted:
                if self.state.config.latency:
                    await asyncio.sleep(self.state.config.latency)
                over_rate = functools.partial(admission.over_rate, principal)
                reply = (
                    self.api.answer(route, request)
                    if operations is None
                    else self.batches.answer(request, operations, admitted, over_rate, correlation_id)
                )
                reply.headers = {**bc_headers(correlation_id), **reply.headers}
                await deliver(reply)
                return
        except ApiError as exc:
            reply = error_reply(exc, correlation_id)
        await deliver(reply)
