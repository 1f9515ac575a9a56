"""The connection form's fields as Airflow gets them: required marks, defaults shown but never stored,
and the hook applying today's defaults to whatever a form saved."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import pytest

from airflow_provider_bc.client.settings import AUTH_TYPES, ClientSettings
from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.hooks.connection_fields import EXTRA_FIELDS, UI_FIELD_BEHAVIOUR, conn_fields
from airflow_provider_bc.hooks.connection_settings import settings_from_connection

DEFAULTS = {f.name: f.default for f in fields(ClientSettings)}


def _as_the_form_gets_it(widget: Any) -> dict[str, Any]:
    """label, required, pre-filled value and help of one extra field, from Airflow's providers manager:
    ``conn-fields`` on Airflow >= 3.2, the hook's wtforms widgets before."""
    if isinstance(widget.field, dict):
        schema = widget.field["schema"]
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        # Airflow 3's UI marks (and enforces) a field required when its schema type admits no null
        return {
            "label": schema["title"],
            "required": "null" not in types,
            "value": widget.field["value"],
            "help": widget.field["description"],
        }
    kwargs = widget.field.kwargs
    return {
        "label": str(widget.field.args[0]),
        "required": kwargs["description"].startswith("Required."),
        "value": kwargs.get("default"),
        "help": kwargs["description"],
    }


def test_the_form_requires_no_extra_and_prefills_nothing() -> None:
    """Tenant ID is not required: the form cannot make it depend on auth_type, and basic needs none
    (the hook names it when an Entra auth type lacks it)."""
    from airflow.providers_manager import ProvidersManager

    widgets = ProvidersManager().connection_form_widgets
    form = {name: _as_the_form_gets_it(widgets[f"extra__business_central__{name}"]) for name in EXTRA_FIELDS}
    assert {name for name, field in form.items() if field["required"]} == set()
    assert form["tenant_id"]["label"] == "Tenant ID"
    assert "every auth type but basic" in form["tenant_id"]["help"]
    assert all(field["value"] is None for field in form.values())  # nothing pre-filled: nothing stored
    assert "When empty: production." in form["environment"]["help"]
    assert "When empty: 120." in form["timeout"]["help"]


def test_defaults_shown_are_the_client_defaults() -> None:
    shown = {name: field.default for name, field in EXTRA_FIELDS.items() if field.default is not None}
    assert shown == {
        "environment": DEFAULTS["environment"],
        "auth_type": DEFAULTS["auth_type"],
        "api_route": DEFAULTS["api_route"],
        "authority": DEFAULTS["authority"],
        "scope": DEFAULTS["scope"],
        "timeout": str(int(DEFAULTS["read_timeout"])),
        "max_retries": str(DEFAULTS["max_retries"]),
        "verify": "true",
    }
    # Airflow 2 shows them as placeholders; Airflow 3 in each field's help (its extras have no placeholder)
    assert {k: v for k, v in UI_FIELD_BEHAVIOUR["placeholders"].items() if k in EXTRA_FIELDS} == shown
    for name, field in conn_fields().items():
        assert "default" not in field["schema"], name
        assert (EXTRA_FIELDS[name].default or "") in field["description"]


def test_auth_type_offers_every_auth_type() -> None:
    from airflow.providers_manager import ProvidersManager

    widget = ProvidersManager().connection_form_widgets["extra__business_central__auth_type"].field
    if isinstance(widget, dict):  # Airflow 3: a dropdown of the enum; null (untouched) is the default
        assert widget["schema"]["enum"] == [None, *AUTH_TYPES]
    else:  # Airflow 2 takes no select: a text field whose help names each value
        assert all(name in widget.kwargs["description"] for name in AUTH_TYPES)
    assert AUTH_TYPES[0] == DEFAULTS["auth_type"] == "client_secret"


@pytest.mark.parametrize("empty", [None, ""], ids=["null", "empty string"])
def test_the_hook_applies_todays_defaults_to_what_a_form_saved(empty: Any) -> None:
    """Airflow 3's form saves every extra, untouched ones as null (Airflow 2's as ""): each gets the
    current default, so a later default change reaches connections saved before it."""
    saved = {name: empty for name in EXTRA_FIELDS} | {"tenant_id": "contoso.onmicrosoft.com"}
    settings = settings_from_connection("bc", login="app", password="secret", host=empty, extra=saved)
    assert settings == ClientSettings(client_id="app", client_secret="secret", tenant_id="contoso.onmicrosoft.com")


def test_test_messages_name_no_connection(
    bc_connection: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow's UI tests a copy of the connection saved under a random id: a message naming that id
    would point the user at a connection that does not exist."""
    conn = bc_connection()
    conn["extra"]["tenant_id"] = ""
    monkeypatch.setenv("AIRFLOW_CONN_R1PMONOE", json.dumps(conn))
    ok, message = BusinessCentralHook("r1pmonoe").test_connection()
    assert not ok
    assert message.startswith("Business Central setting 'tenant_id': missing")
    assert "r1pmonoe" not in message.lower()
