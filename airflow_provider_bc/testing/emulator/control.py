"""The control API under ``/_emulator/``: info, stats, reset, config, faults, clients, revoke, entries.

It needs no authentication and is left out of counters, limits and faults.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .asgi import Reply, Request, json_reply
from .faults import Fault
from .routes import CONTROL_PREFIX
from .seed import DEFAULT_COMPANY_ID
from .state import EmulatorState

Handler = Callable[[EmulatorState, dict[str, Any]], Any]


def _stats(state: EmulatorState, _: dict[str, Any]) -> Any:
    return {
        **state.stats.snapshot(state.admission.peak),
        "faults_pending": state.faults.describe(),
        "config": state.config.as_dict(),
    }


def _reset(state: EmulatorState, _: dict[str, Any]) -> Any:
    state.reset()
    return {"config": state.config.as_dict()}


def _configure(state: EmulatorState, body: dict[str, Any]) -> Any:
    state.config.apply(body)
    return state.config.as_dict()


def _add_fault(state: EmulatorState, body: dict[str, Any]) -> Any:
    state.faults.add(Fault.from_json(body))
    return {"faults_pending": state.faults.describe()}


def _register_client(state: EmulatorState, body: dict[str, Any]) -> Any:
    client_id, client_secret = state.directory.register(body.get("client_id"), body.get("client_secret"))
    return {"client_id": client_id, "client_secret": client_secret}


def _revoke(state: EmulatorState, body: dict[str, Any]) -> Any:
    client_id = str(body.get("client_id") or state.info["client_id"])
    state.directory.revoke(client_id)
    return {"client_id": client_id}


def _insert_entry(state: EmulatorState, body: dict[str, Any]) -> Any:
    company_id = str(body.get("company_id") or DEFAULT_COMPANY_ID).lower()
    if state.store.company(company_id) is None:
        raise LookupError(f"no company with id {company_id}")
    entity = state.store.insert_entry(company_id, dict(body.get("fields") or {}))
    if state.inserted is not None:
        state.inserted.record(company_id, entity)
    return entity


HANDLERS: dict[tuple[str, str], Handler] = {
    ("GET", "info"): lambda state, _: state.info,
    ("GET", "stats"): _stats,
    ("GET", "config"): lambda state, _: state.config.as_dict(),
    ("GET", "tokens"): lambda state, _: {"tokens": list(state.directory.issued)},
    ("POST", "config"): _configure,
    ("POST", "reset"): _reset,
    ("POST", "faults"): _add_fault,
    ("POST", "clients"): _register_client,
    ("POST", "revoke"): _revoke,
    ("POST", "entries"): _insert_entry,
}


def control_reply(state: EmulatorState, request: Request) -> Reply:
    """Answer one control API request with JSON (400 for invalid input, 404 for unknown ones)."""
    handler = HANDLERS.get((request.method, request.path.removeprefix(CONTROL_PREFIX).strip("/")))
    if handler is None:
        return json_reply(404, {"error": f"no control endpoint {request.method} {request.path}"})
    try:
        body = json.loads(request.body) if request.body else {}
        if not isinstance(body, dict):
            raise ValueError("the request body must be a JSON object")
        return json_reply(200, handler(state, body))
    except LookupError as exc:
        return json_reply(404, {"error": str(exc)})
    except ValueError as exc:
        return json_reply(400, {"error": str(exc)})
