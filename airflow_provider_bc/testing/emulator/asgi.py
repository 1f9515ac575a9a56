"""Minimal ASGI plumbing: the parts of a request the emulator reads, and the reply it sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
JSON_TYPE = "application/json; charset=utf-8"
PARTS_PER_SECOND = 20  # how finely a body sent at a bandwidth is divided ...
MAX_PART = 64 * 1024  # ... into parts of at most this many bytes


@dataclass(frozen=True)
class Request:
    """An HTTP request with its body read; header names are lower-case."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    connection: str = ""  # the client's address and port: one per TCP connection

    @property
    def target(self) -> str:
        """Path and query string, as in the request line."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path


@dataclass
class Reply:
    """A complete HTTP response."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


async def read_request(scope: Scope, receive: Receive) -> Request:
    """Collect an HTTP request (headers and whole body) from the ASGI scope and receive channel."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return Request(
        method=scope["method"],
        path=scope["path"],
        query_string=scope["query_string"].decode("latin-1"),
        headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]},
        body=b"".join(chunks),
        connection=":".join(map(str, scope.get("client") or ())),
    )


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    """A reply carrying ``data`` as compact UTF-8 JSON."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})


async def _send_start(send: Send, reply: Reply) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()]
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})


async def send_reply(send: Send, reply: Reply, *, cut_at: int | None = None) -> None:
    """Send ``reply`` with its Content-Length; with ``cut_at``, only that much of the body, unfinished."""
    await _send_start(send, reply)
    if cut_at is None:
        await send({"type": "http.response.body", "body": reply.body})
    else:
        await send({"type": "http.response.body", "body": reply.body[:cut_at], "more_body": True})


def body_schedule(size: int, bandwidth: int = 0, pause: tuple[int, float] | None = None) -> list[tuple[int, float]]:
    """When to send which part of a ``size``-byte body: ``(end offset, seconds after the headers)`` pairs.

    At most ``bandwidth`` bytes a second (0: no limit), in parts of a twentieth of a second (64 KiB at
    most); ``pause=(offset, seconds)`` holds back everything from ``offset`` on that much longer.
    """
    step = min(MAX_PART, max(1, bandwidth // PARTS_PER_SECOND)) if bandwidth else max(size, 1)
    ends = {*range(step, size, step), size, *([pause[0]] if pause else [])}
    return [
        (end, (end / bandwidth if bandwidth else 0.0) + (pause[1] if pause and end > pause[0] else 0.0))
        for end in sorted(ends)
    ]


async def send_paced(send: Send, receive: Receive, reply: Reply, schedule: list[tuple[int, float]]) -> None:
    """Send ``reply`` with its headers at once and its body as ``schedule`` (:func:`body_schedule`) says;
    a client that disconnects while a part waits ends it (nothing more is sent)."""
    await _send_start(send, reply)
    started, sent = time.monotonic(), 0
    for end, at in schedule:
        if await client_gone_within(receive, started + at - time.monotonic()):
            return
        await send({"type": "http.response.body", "body": reply.body[sent:end], "more_body": end < len(reply.body)})
        sent = end


async def drop_connection(send: Send, receive: Receive) -> None:
    """Close the client connection without any response (uvicorn exposes its transport on ``send``)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("this ASGI server does not expose the connection; a 'drop' fault needs uvicorn")
    transport.abort()
    await receive()  # returns once the server has noticed the disconnect, so it sends nothing itself


async def client_gone_within(receive: Receive, seconds: float) -> bool:
    """Wait ``seconds`` after the request was read; True as soon as the client disconnects instead."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        listening = asyncio.ensure_future(receive())
        done, _ = await asyncio.wait({listening}, timeout=remaining)
        if not done:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
            return False
        if listening.result().get("type") == "http.disconnect":
            return True
    return False
