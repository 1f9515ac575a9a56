"""The handle's way to the control API (``/_emulator/``): a JSON request, its JSON answer, or
:class:`~.handle_launch.EmulatorError`. The calls themselves are grouped by concern in the other
``handle_*`` modules."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import requests

from .handle_info import ConnectionInfo
from .handle_launch import EmulatorError


def _json_value(value: Any) -> str:
    """A decimal travels to the control API as its text, kept exactly."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class ControlClient(ConnectionInfo):
    """Requests to the control API of the emulator :attr:`info` describes, through one session."""

    _session: requests.Session

    def _control(self, method: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """``method`` on ``/_emulator/{name}`` with ``body`` as JSON (decimals as their text); the answer."""
        data = None if body is None else json.dumps(body, default=_json_value)
        response = self._session.request(
            method,
            f"{self.base_url}/_emulator/{name}",
            data=data,
            headers={"Content-Type": "application/json"},
            verify=self.ca_bundle,
            timeout=30,
        )
        if not response.ok:
            raise EmulatorError(f"control API {method} {name}: {response.status_code} {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    def _call(self, name: str, **body: Any) -> dict[str, Any]:
        """POST the keyword arguments as one JSON object to ``/_emulator/{name}``; the answer."""
        return self._control("POST", name, body)
