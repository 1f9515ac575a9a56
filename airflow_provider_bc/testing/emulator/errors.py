"""Business Central's error answers and the headers on every BC API response."""

from __future__ import annotations

import uuid

from .asgi import Reply, json_reply

ODATA_JSON = "application/json; odata.metadata=minimal; odata.streaming=true"


class ApiError(Exception):
    """An error answer of the BC API; the correlation id is appended to ``message`` when sent."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def no_resource(url: str) -> ApiError:
    """BC's 404 for a URL that names no resource of the API."""
    return ApiError(404, "BadRequest_NotFound", f"No HTTP resource was found that matches the request URI '{url}'.")


def bc_headers(correlation_id: str) -> dict[str, str]:
    """The headers BC puts on every API response."""
    return {
        "Content-Type": ODATA_JSON,
        "OData-Version": "4.0",
        "Request-Id": str(uuid.uuid4()),
        "ms-correlation-x": correlation_id,
    }


def error_reply(error: ApiError, correlation_id: str) -> Reply:
    """The BC-shaped error body ``{"error": {"code", "message"}}`` ending with the correlation id."""
    body = {"error": {"code": error.code, "message": f"{error.message}  CorrelationId:  {correlation_id}."}}
    return json_reply(error.status, body, {**bc_headers(correlation_id), **error.headers})
