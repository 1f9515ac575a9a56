"""The control API under ``/_emulator/``: info, stats, reset, config, faults, clients, revoke, entries.

It needs no authentication and is left out of counters, limits and faults. Bodies are JSON objects;
an answer is JSON (400 for invalid input, 404 for an unknown company, entry or endpoint).

* ``GET info``, ``GET stats``, ``GET config``, ``GET tokens``; ``POST reset`` (no body).
* ``POST config``: settings to change, e.g. ``{"latency": 0.1, "bandwidth": 2000000}``; answers them all.
* ``POST faults``: ``{"kind": ..., "count": ..., ...}`` (see :class:`.faults.Fault`).
* ``POST clients``: ``{"client_id"?, "client_secret"?, "certificate"?}`` (a PEM certificate to add);
  ``POST revoke``: ``{"client_id"?}``.
* ``POST clients/federated``: ``{"client_id", "issuer", "subject", "issuer_key"}`` (the issuer's PEM
  public key) adds a federated credential; ``POST clients/federated/remove``: ``{"client_id", "subject"}``.
* ``POST users``: ``{"user"?, "access_key"?}`` creates a Business Central on-premises user with a
  web service access key (for Basic auth on ``/{environment}/api/v2.0``); answers both.
* ``POST identities``: ``{"client_id"?}`` (a client id or resource id) assigns a user-assigned managed
  identity to the host (none:
  enables the system-assigned one); answers its ``client_id`` and the ``identity_header``. The
  identity endpoints themselves are under ``identity/`` (:mod:`.managed_identity`).
* ``POST entries``: ``{"company_id"?, "fields": {...}}`` appends an item ledger entry (the next
  entryNumber, now as lastModifiedDateTime, generated values for the fields not given).
* ``POST entries/modify``: ``{"company_id"?, "entry_id", "fields": {...}}`` changes stored fields (not
  ``id``, ``entryNumber``, ``lastModifiedDateTime`` or the FlowFields): a new lastModifiedDateTime
  (now) and ETag, as BC's SystemModifiedAt.
* ``POST entries/cost_adjustment``: ``{"company_id"?, "entry_id", "amount"}`` adds ``amount`` to the
  FlowField ``costAmountActual``; lastModifiedDateTime and ETag stay as they were, as in BC.

The three ``entries`` calls answer the entry as the API then sends it; ``company_id`` defaults to
CRONUS USA, Inc.; a decimal (a field or ``amount``) may be a JSON number or its text (kept exactly).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .asgi import JSON_TYPE, Reply, Request, json_reply
from .faults import Fault
from .managed_identity import IDENTITY_PREFIX, managed_identity_reply
from .routes import CONTROL_PREFIX
from .schema import decimal_text
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
    client_id, client_secret = state.directory.register(
        body.get("client_id"), body.get("client_secret"), body.get("certificate")
    )
    return {"client_id": client_id, "client_secret": client_secret}


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _add_federated(state: EmulatorState, body: dict[str, Any]) -> Any:
    client_id, subject = _text(body, "client_id"), _text(body, "subject")
    state.directory.add_federated_credential(client_id, _text(body, "issuer"), subject, _text(body, "issuer_key"))
    return {"client_id": client_id, "subject": subject}


def _remove_federated(state: EmulatorState, body: dict[str, Any]) -> Any:
    client_id, subject = _text(body, "client_id"), _text(body, "subject")
    state.directory.remove_federated_credential(client_id, subject)
    return {"client_id": client_id, "subject": subject}


def _revoke(state: EmulatorState, body: dict[str, Any]) -> Any:
    client_id = str(body.get("client_id") or state.info["client_id"])
    state.directory.revoke(client_id)
    return {"client_id": client_id}


def _assign_identity(state: EmulatorState, body: dict[str, Any]) -> Any:
    client_id = state.directory.assign_managed_identity(body.get("client_id") or None)
    return {"client_id": client_id, "identity_header": state.directory.identity_header}


def _add_user(state: EmulatorState, body: dict[str, Any]) -> Any:
    user, access_key = state.directory.add_web_service_user(body.get("user"), body.get("access_key"))
    return {"user": user, "access_key": access_key}


def _company_id(state: EmulatorState, body: dict[str, Any]) -> str:
    company_id = str(body.get("company_id") or DEFAULT_COMPANY_ID).lower()
    if state.store.company(company_id) is None:
        raise LookupError(f"no company with id {company_id}")
    return company_id


def _entry_id(body: dict[str, Any]) -> str:
    entry_id = body.get("entry_id")
    if not isinstance(entry_id, str):
        raise ValueError(f"entry_id must be the id of an item ledger entry, not {entry_id!r}")
    return entry_id


def _amount(body: dict[str, Any]) -> Decimal:
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise ValueError(f"amount must be a number or its text, not {amount!r}")
    return Decimal(decimal_text(amount))


def _changed(state: EmulatorState, company_id: str, entity: bytes) -> Reply:
    """Keep a changed entry for a restart and answer it (its JSON text as the API sends it)."""
    if state.journal is not None:
        state.journal.record(company_id, entity)
    return Reply(200, entity, {"Content-Type": JSON_TYPE})


def _insert_entry(state: EmulatorState, body: dict[str, Any]) -> Any:
    company_id = _company_id(state, body)
    return _changed(state, company_id, state.store.insert_entry(company_id, dict(body.get("fields") or {})))


def _modify_entry(state: EmulatorState, body: dict[str, Any]) -> Any:
    company_id, fields = _company_id(state, body), dict(body.get("fields") or {})
    if not fields:
        raise ValueError("fields must name at least one field to change")
    return _changed(state, company_id, state.store.modify_entry(company_id, _entry_id(body), fields))


def _post_cost_adjustment(state: EmulatorState, body: dict[str, Any]) -> Any:
    company_id = _company_id(state, body)
    return _changed(state, company_id, state.store.post_cost_adjustment(company_id, _entry_id(body), _amount(body)))


HANDLERS: dict[tuple[str, str], Handler] = {
    ("GET", "info"): lambda state, _: state.info,
    ("GET", "stats"): _stats,
    ("GET", "config"): lambda state, _: state.config.as_dict(),
    ("GET", "tokens"): lambda state, _: {"tokens": list(state.directory.issued)},
    ("POST", "config"): _configure,
    ("POST", "reset"): _reset,
    ("POST", "faults"): _add_fault,
    ("POST", "clients"): _register_client,
    ("POST", "clients/federated"): _add_federated,
    ("POST", "clients/federated/remove"): _remove_federated,
    ("POST", "identities"): _assign_identity,
    ("POST", "users"): _add_user,
    ("POST", "revoke"): _revoke,
    ("POST", "entries"): _insert_entry,
    ("POST", "entries/modify"): _modify_entry,
    ("POST", "entries/cost_adjustment"): _post_cost_adjustment,
}


def control_reply(state: EmulatorState, request: Request) -> Reply:
    """Answer one control API request with JSON (400 for invalid input, 404 for unknown ones)."""
    if request.path.startswith(IDENTITY_PREFIX):
        return managed_identity_reply(state, request)
    handler = HANDLERS.get((request.method, request.path.removeprefix(CONTROL_PREFIX).strip("/")))
    if handler is None:
        return json_reply(404, {"error": f"no control endpoint {request.method} {request.path}"})
    try:
        body = json.loads(request.body) if request.body else {}
        if not isinstance(body, dict):
            raise ValueError("the request body must be a JSON object")
        result = handler(state, body)
        return result if isinstance(result, Reply) else json_reply(200, result)
    except LookupError as exc:
        return json_reply(404, {"error": str(exc)})
    except ValueError as exc:
        return json_reply(400, {"error": str(exc)})
