"""The control API under ``/_emulator/``: info, stats, reset, config, faults, clients, revoke, entries.

It needs no authentication and is left out of counters, limits and faults. Bodies are JSON objects;
an answer is JSON (400 for invalid input, 404 for an unknown environment, company, entry or endpoint).

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
* ``POST entries``: ``{"company_id"?, "environment"?, "fields": {...}}`` appends an item ledger entry
  (the next number of the company's sequence, now as lastModifiedDateTime, generated values for the
  fields not given), visible at once.
* ``POST entries/modify``: ``{"company_id"?, "environment"?, "entry_id", "fields": {...}}`` changes
  stored fields (not ``id``, ``entryNumber``, ``lastModifiedDateTime`` or the FlowFields): a new
  lastModifiedDateTime (now) and ETag, as BC's SystemModifiedAt.
* ``POST entries/delete``: ``{"company_id"?, "environment"?, "entry_id"}`` removes an entry, as a deletion
  in BC does (no read sees it; its number stays used).
* ``POST entries/cost_adjustment``: ``{"company_id"?, "environment"?, "entry_id", "amount"}`` adds
  ``amount`` to the FlowField ``costAmountActual``; lastModifiedDateTime and ETag stay as they were, as in BC.

Number sequences, as BC numbers item ledger entries (a number is taken at the insert, not at the
commit: gaps are normal, and entry N can become visible after N+1 with an earlier lastModifiedDateTime):

* ``POST entries/reserve``: ``{"company_id"?, "environment"?, "count"? (1), "fields"? {...}}`` inserts
  ``count`` entries in a transaction left open: each gets its id, the next number and now as
  lastModifiedDateTime, and no API read sees it (collections, ``$count``, by id, ``$batch``).
* ``POST entries/commit``: ``{"company_id"?, "environment"?, "entry_ids": [...]}`` makes reserved entries
  visible exactly as reserved (number, lastModifiedDateTime, ETag).
* ``POST entries/rollback``: the same body; drops reserved entries, their numbers staying used (gaps).
* ``POST entries/skip``: ``{"company_id"?, "environment"?, "count"}`` uses up ``count`` numbers without an
  entry; answers ``{"entry_numbers": [first, last]}``.

Reserve, commit and rollback answer ``{"entries": [...]}``, insert, modify and cost adjustment the
entry, delete the entry as it was, each as the API sends it (or will). ``company_id`` defaults to
CRONUS USA, Inc.; ``environment`` to the default one (production; each environment has data of its
own, see :mod:`.environments`); a decimal (a field or ``amount``) may be a JSON number or its text
(kept exactly). Changes (deletions too) and used numbers survive a restart (:mod:`.persistence`);
reserved entries do not (a restart rolls them back).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .asgi import JSON_TYPE, Reply, Request, json_reply
from .environments import Environment
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


def _target(state: EmulatorState, body: dict[str, Any]) -> tuple[Environment, str]:
    """The environment (default: production) and the company (default: CRONUS USA, Inc.) of an entries call."""
    name = body.get("environment") or state.environments.default
    if not isinstance(name, str):
        raise ValueError(f"environment must be the name of an environment, not {name!r}")
    environment = state.environments.get(name)
    company_id = str(body.get("company_id") or DEFAULT_COMPANY_ID).lower()
    if environment.store.company(company_id) is None:
        raise LookupError(f"no company with id {company_id} in environment {name!r}")
    return environment, company_id


def _entry_id(body: dict[str, Any]) -> str:
    entry_id = body.get("entry_id")
    if not isinstance(entry_id, str):
        raise ValueError(f"entry_id must be the id of an item ledger entry, not {entry_id!r}")
    return entry_id


def _entry_ids(body: dict[str, Any]) -> list[str]:
    entry_ids = body.get("entry_ids")
    if not isinstance(entry_ids, list) or not entry_ids or not all(isinstance(i, str) for i in entry_ids):
        raise ValueError(f"entry_ids must be a non-empty list of item ledger entry ids, not {entry_ids!r}")
    return entry_ids


def _count(body: dict[str, Any], default: int | None = None) -> int:
    count = body.get("count", default)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a whole number of at least 1, not {count!r}")
    return count


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise ValueError(f"fields must be a JSON object of field values, not {fields!r}")
    return fields


def _amount(body: dict[str, Any]) -> Decimal:
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise ValueError(f"amount must be a number or its text, not {amount!r}")
    return Decimal(decimal_text(amount))


def _changed(environment: Environment, company_id: str, entity: bytes) -> Reply:
    """Keep a changed entry for a restart and answer it (its JSON text as the API sends it)."""
    environment.journal.record(company_id, entity)
    return Reply(200, entity, {"Content-Type": JSON_TYPE})


def _numbers_taken(environment: Environment, company_id: str) -> None:
    """Keep how far the company's entry numbers went for a restart (which never hands one out twice)."""
    environment.journal.record_next_entry_number(company_id, environment.store.next_entry_number(company_id))


def _entries_reply(entities: list[bytes]) -> Reply:
    """``{"entries": [...]}``, each entry's JSON text as the API sends it."""
    return Reply(200, b'{"entries":[' + b",".join(entities) + b"]}", {"Content-Type": JSON_TYPE})


def _insert_entry(state: EmulatorState, body: dict[str, Any]) -> Any:
    environment, company_id = _target(state, body)
    return _changed(environment, company_id, environment.store.insert_entry(company_id, _fields(body)))


def _modify_entry(state: EmulatorState, body: dict[str, Any]) -> Any:
    (environment, company_id), fields = _target(state, body), _fields(body)
    if not fields:
        raise ValueError("fields must name at least one field to change")
    return _changed(environment, company_id, environment.store.modify_entry(company_id, _entry_id(body), fields))


def _delete_entry(state: EmulatorState, body: dict[str, Any]) -> Any:
    environment, company_id = _target(state, body)
    entity = environment.store.delete_entry(company_id, _entry_id(body))
    environment.journal.record_deletion(company_id, json.loads(entity)["id"])
    return Reply(200, entity, {"Content-Type": JSON_TYPE})


def _post_cost_adjustment(state: EmulatorState, body: dict[str, Any]) -> Any:
    environment, company_id = _target(state, body)
    entity = environment.store.post_cost_adjustment(company_id, _entry_id(body), _amount(body))
    return _changed(environment, company_id, entity)


def _reserve_entries(state: EmulatorState, body: dict[str, Any]) -> Any:
    environment, company_id = _target(state, body)
    entities = environment.store.reserve_entries(company_id, _count(body, 1), _fields(body))
    _numbers_taken(environment, company_id)
    return _entries_reply(entities)


def _commit_entries(state: EmulatorState, body: dict[str, Any]) -> Any:
    environment, company_id = _target(state, body)
    entities = environment.store.commit_entries(company_id, _entry_ids(body))
    for entity in entities:
        environment.journal.record(company_id, entity)
    return _entries_reply(entities)


def _rollback_entries(state: EmulatorState, body: dict[str, Any]) -> Any:
    environment, company_id = _target(state, body)
    return _entries_reply(environment.store.rollback_entries(company_id, _entry_ids(body)))


def _skip_entry_numbers(state: EmulatorState, body: dict[str, Any]) -> Any:
    environment, company_id = _target(state, body)
    numbers = environment.store.skip_entry_numbers(company_id, _count(body))
    _numbers_taken(environment, company_id)
    return {"entry_numbers": [numbers[0], numbers[-1]]}


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
    ("POST", "entries/delete"): _delete_entry,
    ("POST", "entries/cost_adjustment"): _post_cost_adjustment,
    ("POST", "entries/reserve"): _reserve_entries,
    ("POST", "entries/commit"): _commit_entries,
    ("POST", "entries/rollback"): _rollback_entries,
    ("POST", "entries/skip"): _skip_entry_numbers,
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
