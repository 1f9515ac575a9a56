"""The provider as Airflow sees it: providers manager, connection form, test_connection."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.hooks.connection_fields import EXTRA_FIELDS, HOOK_NAME
from tests.secret_scan import SecretScanner


def _airflow_connection(conn_id: str) -> Any:
    """The connection as Airflow resolves it for a task (task SDK), or as Airflow 2 does."""
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    except ImportError:
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)


def test_providers_manager_lists_provider_hook_and_connection_fields(
    bc_connection: Callable[..., dict[str, Any]],
) -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-business-central" in manager.providers
    try:  # Airflow >= 3.2 keeps hook discovery in the task SDK
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hook_info = ProvidersManagerTaskRuntime().hooks["business_central"]
    except ImportError:
        hook_info = manager.hooks["business_central"]
    # Airflow turns a connection of our type into our hook, bound to that connection, and it works
    bc_connection("bc_through_airflow")
    hook = _airflow_connection("bc_through_airflow").get_hook()
    assert type(hook) is BusinessCentralHook
    assert getattr(hook, hook_info.connection_id_attribute_name) == "bc_through_airflow"
    assert hook.list_companies()[0]["name"] == "CRONUS USA, Inc."
    widgets = manager.connection_form_widgets
    for field in ("tenant_id", "environment", "company_id", "verify", "max_retries"):
        assert f"extra__business_central__{field}" in widgets
    behaviour = manager.field_behaviours["business_central"]
    assert behaviour["relabeling"]["login"] == "Client ID"
    assert behaviour["relabeling"]["password"] == "Client Secret"
    assert "port" in behaviour["hidden_fields"]
    assert any("airflow_provider_bc.triggers.business_central" in str(t) for t in manager.trigger)
    data = manager.providers["airflow-provider-business-central"].data
    kinds = ("operators", "sensors", "triggers")
    listed = {module for kind in kinds for entry in data[kind] for module in entry["python-modules"]}
    assert {
        "airflow_provider_bc.operators.entities",
        "airflow_provider_bc.operators.reconcile",
        "airflow_provider_bc.sensors.entities",
    } < listed
    assert all(importlib.import_module(module) for module in listed)
    transfers = data["transfers"]
    assert [t["python-module"] for t in transfers] == [
        "airflow_provider_bc.transfers.business_central_to_object_storage"
    ]


def test_the_airflow_3_ui_gets_every_extra_field_and_the_relabelled_standard_fields() -> None:
    """What Airflow 3's UI builds the connection form from (its hook metadata service): every extra field of
    the form, titled, and login and password relabelled. Airflow 3.2 and later read ``conn-fields``;
    Airflow 3.0 and 3.1 read the hook's wtforms widgets, with wtforms, Flask-Babel and Flask-AppBuilder
    stubbed, which works only where they are installed (by the FAB provider, as in Airflow's image): without
    them no provider's extra fields reach the form (apache/airflow#55841)."""
    services = pytest.importorskip(
        "airflow.api_fastapi.core_api.services.ui.connections", reason="Airflow 2's form is its Flask one (above)"
    )
    from airflow.providers_manager import ProvidersManager

    try:
        meta = {m.connection_type: m for m in services.HookMetaService.hook_meta_data()}["business_central"]
    finally:
        ProvidersManager()._cleanup()  # it left the stubs in the providers manager's widgets: read them anew
    assert meta.hook_class_name == "airflow_provider_bc.hooks.business_central.BusinessCentralHook"
    assert meta.hook_name == HOOK_NAME
    titles = {name: field["schema"]["title"] for name, field in (meta.extra_fields or {}).items()}
    assert titles == {name: field.label for name, field in EXTRA_FIELDS.items()}
    standard = meta.standard_fields
    assert standard.login.title == "Client ID" and standard.password.title == "Client Secret"
    assert standard.port.hidden and not standard.host.hidden


def test_test_connection_good_and_wrong_secret(
    bc_connection: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    bc_connection()
    ok, message = BusinessCentralHook().test_connection()
    assert ok, message
    assert "CRONUS USA, Inc." in message

    conn = bc_connection()
    conn["password"] = "definitely-wrong"
    monkeypatch.setenv("AIRFLOW_CONN_BC_WRONG_SECRET", json.dumps(conn))
    ok, message = BusinessCentralHook("bc_wrong_secret").test_connection()
    assert not ok
    assert "invalid_client" in message
    assert "definitely-wrong" not in message


def test_test_connection_names_a_missing_default_company(bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection(company_id="00000000-0000-0000-0000-00000000abcd")
    ok, message = BusinessCentralHook().test_connection()
    assert not ok
    assert "00000000-0000-0000-0000-00000000abcd" in message and "CRONUS USA, Inc." in message


def test_the_leak_scan_sees_what_the_hook_logs(
    request: pytest.FixtureRequest, bc_connection: Callable[..., dict[str, Any]], secret_scanner: SecretScanner
) -> None:
    """The session's secret scan is only worth something if it sees the hook's and urllib3's records."""
    bc_connection("bc_scanned", fresh_client=True)
    BusinessCentralHook("bc_scanned").list_companies()
    text = "\n".join(t for where, t in secret_scanner.texts if where.endswith(f"during {request.node.nodeid}"))
    assert "Fetched a new Business Central token" in text
    assert "urllib3.connectionpool DEBUG" in text
