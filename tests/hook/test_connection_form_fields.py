"""The connection form's fields as Airflow gets them: required marks, defaults shown but never stored,
and the hook applying today's defaults to whatever a form saved."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.client.errors import THROTTLING_STATUSES, BusinessCentralConfigError
from airflow_provider_bc.client.settings import AUTH_TYPES, NUMBER_RANGES, ClientSettings
from airflow_provider_bc.hooks import connection_settings
from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.hooks.connection_fields import (
    EXTRA_FIELDS,
    EXTRA_JSON_ONLY,
    UI_FIELD_BEHAVIOUR,
    conn_fields,
)
from airflow_provider_bc.hooks.connection_settings import settings_from_connection
from airflow_provider_bc.testing.credentials import make_certificate

DEFAULTS = {f.name: f.default for f in fields(ClientSettings)}
#: what the hook reads from the extra (connection_settings), the form's fields or not
EXTRAS_READ = {
    "tenant_id",
    "auth_type",
    "verify",
    "proxies",
    "read_only_intent",
    "certificate_path",
    "private_key_path",
    "certificate",
    "private_key",
    "federated_token_file",
    *connection_settings._TEXTS,
    *connection_settings._NUMBERS,
}
ON_PREMISES = "https://bc.contoso.local:7048/BC"


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
        "connect_timeout": str(int(DEFAULTS["connect_timeout"])),
        "max_retries": str(DEFAULTS["max_retries"]),
        "backoff_factor": str(int(DEFAULTS["backoff_factor"])),
        "backoff_max": str(int(DEFAULTS["backoff_max"])),
        "retry_after_max": str(DEFAULTS["retry_after_max"]),
        "max_concurrent_requests": str(DEFAULTS["max_in_flight"]),
        "max_requests_per_window": str(DEFAULTS["max_requests"]),
        "request_window": str(int(DEFAULTS["request_window"])),
        "verify": "true",
    }
    # Airflow 2 shows them as placeholders; Airflow 3 in each field's help (its extras have no placeholder)
    assert {k: v for k, v in UI_FIELD_BEHAVIOUR["placeholders"].items() if k in EXTRA_FIELDS} == shown
    for name, field in conn_fields().items():
        assert "default" not in field["schema"], name
        assert (EXTRA_FIELDS[name].default or "") in field["description"]


def _dropdown_label(schema: dict[str, Any], value: Any) -> str:
    """What Airflow 3's select (FieldDropdown) shows for ``value``: its ``values_display`` label, else the
    value as text, ``null`` for None (its ``labelLookup``)."""
    key = "null" if value is None else str(value)
    display = schema.get("values_display")
    if isinstance(display, dict):
        return str(display.get(key, display.get("None", key)))
    return key


def test_auth_type_offers_every_auth_type() -> None:
    from airflow.providers_manager import ProvidersManager

    widget = ProvidersManager().connection_form_widgets["extra__business_central__auth_type"].field
    if isinstance(widget, dict):  # Airflow 3: a dropdown of the enum; null (untouched) is the default
        assert widget["schema"]["enum"] == [None, *AUTH_TYPES]
        # each auth type is offered under its own name, as the help and the README call it
        assert [_dropdown_label(widget["schema"], value) for value in AUTH_TYPES] == list(AUTH_TYPES)
    else:  # Airflow 2 takes no select: a text field whose help names each value
        assert all(name in widget.kwargs["description"] for name in AUTH_TYPES)
    assert AUTH_TYPES[0] == DEFAULTS["auth_type"] == "client_secret"


def test_a_fresh_form_shows_the_default_auth_type_not_null() -> None:
    """Issue 22: Airflow 3.3's select showed the word ``null`` for the empty value a fresh form holds.
    It shows what the empty value means; choosing it stores nothing (the hook's default applies)."""
    from airflow.providers_manager import ProvidersManager

    widget = ProvidersManager().connection_form_widgets["extra__business_central__auth_type"].field
    if isinstance(widget, dict):  # Airflow >= 3.2: the value a fresh form holds, as the select shows it
        assert widget["value"] is None
        shown = _dropdown_label(widget["schema"], widget["value"])
        assert shown == f"Default ({DEFAULTS['auth_type']})"
        assert [_dropdown_label(widget["schema"], v) for v in widget["schema"]["enum"]].count("null") == 0
    else:  # Airflow 2: an empty text field, the default as its placeholder
        assert widget.kwargs.get("default") is None
        assert UI_FIELD_BEHAVIOUR["placeholders"]["auth_type"] == DEFAULTS["auth_type"]
    # every select of the form: no option reads "null"
    for name, field in conn_fields().items():
        for value in field["schema"].get("enum", ()):
            assert _dropdown_label(field["schema"], value) != "null", name
    assert (
        settings_from_connection(
            None, login="app", password="s", host=None, extra={"auth_type": None, "tenant_id": "t"}
        ).auth_type
        == "client_secret"
    )


def _settings(auth_type: str, login: str, password: str, tmp_path: Path) -> ClientSettings:
    """The settings of a connection of ``auth_type`` with everything else an auth type needs."""
    extra: dict[str, Any] = {"auth_type": auth_type, "tenant_id": "contoso.onmicrosoft.com"}
    if auth_type == "certificate":  # the JSON-only inline PEM texts; the key encrypted with the password, if any
        pair = make_certificate(passphrase=password or None)
        extra |= {"certificate": pair.certificate, "private_key": pair.private_key}
    if auth_type == "workload_identity":
        token_file = tmp_path / "federated-token"
        token_file.write_text("a.federated.token", encoding="ascii")
        extra["federated_token_file"] = str(token_file)
    host = ON_PREMISES if auth_type == "basic" else None
    return settings_from_connection(None, login=login, password=password, host=host, extra=extra)


def _refused(auth_type: str, login: str, password: str, tmp_path: Path) -> str | None:
    """The setting the hook names as wrong for such a connection, or None when it takes it."""
    try:
        _settings(auth_type, login, password, tmp_path)
    except BusinessCentralConfigError as error:
        return error.field
    return None


def test_client_id_and_secret_placeholders_say_when_they_are_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22: Airflow 3 cannot mark the standard fields required (nor give them help), and the old
    placeholders did not say when they are. They say it now, as the hook checks it."""
    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")  # as workload identity sets it
    placeholders = UI_FIELD_BEHAVIOUR["placeholders"]
    assert placeholders["login"] == "Required, but managed/workload identity: may be empty; basic: user name"
    assert placeholders["password"] == "Required for client_secret and basic (access key); certificate: passphrase"
    login_may_be_empty = {"managed_identity", "workload_identity"}
    secret_required = {"client_secret", "basic"}
    for auth_type in AUTH_TYPES:
        login = "" if auth_type == "managed_identity" else "11111111-2222-3333-4444-555555555555"
        assert _refused(auth_type, "", "secret", tmp_path) == (None if auth_type in login_may_be_empty else "client_id")
        assert _refused(auth_type, login, "", tmp_path) == ("client_secret" if auth_type in secret_required else None)
        assert _refused(auth_type, login, "secret", tmp_path) is None
    # Airflow 3 shows no help for standard fields: the Authentication select's help says the rest
    auth_help = EXTRA_FIELDS["auth_type"].help
    for auth_type in AUTH_TYPES:
        assert f"{auth_type}:" in auth_help or f"{auth_type} (" in auth_help
    assert "$AZURE_CLIENT_ID" in auth_help and "passphrase, if any" in auth_help
    assert "web service access key, both required" in auth_help
    assert "$AZURE_TENANT_ID" in EXTRA_FIELDS["tenant_id"].help


def test_every_extra_the_hook_reads_is_a_form_field_or_said_to_be_in_extra_json() -> None:
    """Issue 22: timeouts, backoff, the Retry-After cap and the governor's limits were reachable through
    the Extra JSON only. Each is a number field now, typed as the hook takes it."""
    assert set(EXTRA_FIELDS) | set(EXTRA_JSON_ONLY) == EXTRAS_READ
    assert not set(EXTRA_FIELDS) & set(EXTRA_JSON_ONLY)
    for name in EXTRA_JSON_ONLY:  # the help of a form field says where it goes
        assert any(f"'{name}' in Extra Fields JSON" in field.help for field in EXTRA_FIELDS.values()), name
    numbers = {name for name, field in EXTRA_FIELDS.items() if field.json_type in ("number", "integer")}
    assert numbers == set(connection_settings._NUMBERS)
    for name, setting in connection_settings._NUMBERS.items():
        field = EXTRA_FIELDS[name]
        assert field.setting == setting
        rule = NUMBER_RANGES[setting]
        assert field.json_type == ("integer" if rule.whole else "number"), name
        schema = conn_fields()[name]["schema"]
        assert schema["type"] == [field.json_type, "null"]
        assert schema.get("minimum") == (rule.lowest if rule.inclusive else None), name
        assert schema["section"] == "Timeouts, retries and limits"


def test_numbers_typed_into_the_form_reach_the_client() -> None:
    """Airflow 3's number fields save JSON numbers, Airflow 2's text fields strings: both are read."""
    typed = {
        "timeout": 30,
        "connect_timeout": 2.5,
        "max_retries": 0,
        "backoff_factor": 0.5,
        "backoff_max": 8,
        "retry_after_max": 30,
        "max_concurrent_requests": 2,
        "max_requests_per_window": 100,
        "request_window": 60,
    }
    expected = {connection_settings._NUMBERS[name]: value for name, value in typed.items()}
    for extra in (typed, {name: str(value) for name, value in typed.items()}):
        settings = settings_from_connection(
            None, login="app", password="s", host=None, extra={"tenant_id": "t", **extra}
        )
        assert {setting: getattr(settings, setting) for setting in expected} == expected


def test_the_form_validates_against_airflows_conn_fields_schema() -> None:
    """``conn-fields`` as Airflow 3.2+'s provider.yaml schema declares it (types, minimum, free extra keys)."""
    import airflow

    schema_file = Path(airflow.__file__).with_name("provider.yaml.schema.json")
    if not schema_file.exists():
        pytest.skip("this Airflow declares no conn-fields (before 3.2)")
    import jsonschema

    declared = json.loads(schema_file.read_text(encoding="utf-8"))
    conn_type = declared["properties"]["connection-types"]["items"]["properties"]
    if "conn-fields" not in conn_type:
        pytest.skip("this Airflow declares no conn-fields")
    jsonschema.validate(conn_fields(), conn_type["conn-fields"])
    assert {"number", "integer"} <= set(
        conn_type["conn-fields"]["additionalProperties"]["properties"]["schema"]["properties"]["type"]["oneOf"][0][
            "enum"
        ]
    )


def test_max_retries_help_states_the_one_budget() -> None:
    """Issue 22: the help said "Retries on 429/502/503/504 and dropped connections", as if each kind had
    its own retries and Entra ID or an expired token had none. One budget per request covers them all
    (client/http/retry.py); what is not retried is named too."""
    help_text = EXTRA_FIELDS["max_retries"].help
    assert help_text.startswith("One retry budget per request for every kind of failure together")
    assert "at most max_retries + 1 attempts" in help_text
    retried, _, not_retried = help_text.partition("Not retried:")
    assert all(str(status) in retried for status in THROTTLING_STATUSES)
    for kind in ("Retry-After", "no complete answer", "not Business Central's", "Entra ID", "401", "expired"):
        assert kind in retried, kind
    for status in ("500", "408", "400", "403", "404", "a second 401", "Entra refusing the credentials", "TLS"):
        assert status in not_retried, status
    assert help_text.endswith(f"When empty: {DEFAULTS['max_retries']}.")


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
