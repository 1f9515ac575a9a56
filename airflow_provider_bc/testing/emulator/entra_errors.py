"""Errors of the Entra ID stand-in's token endpoint, answered as Entra answers them."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from .asgi import Reply, json_reply


class EntraError(Exception):
    """An error answer of the token endpoint, with its AADSTS code."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description


def entra_error_reply(error: EntraError, correlation_id: str) -> Reply:
    """The Entra-shaped JSON error (``error``, ``error_description`` with AADSTS code, ids, time)."""
    trace_id = str(uuid.uuid4())
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error.error,
        "error_description": f"AADSTS{error.code}: {error.description} Trace ID: {trace_id} "
        f"Correlation ID: {correlation_id} Timestamp: {stamp}",
        "error_codes": [error.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.code}",
    }
    return json_reply(error.status, body, {"Cache-Control": "no-store"})
