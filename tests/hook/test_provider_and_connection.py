"""The provider as Airflow sees it: providers manager, connection form, test_connection."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_bc.hooks.business_central import BusinessCentralHook


def test_providers_manager_lists_provider_hook_and_connection_fields() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-business-central" in manager.providers
    try:  # Airflow >= 3.2 keeps hook discovery in the task SDK
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hook = ProvidersManagerTaskRuntime().hooks["business_central"]
    except ImportError:
        hook = manager.hooks["business_central"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_bc.hooks.business_central.BusinessCentralHook"
    assert hook.connection_type == "business_central"
    widgets = manager.connection_form_widgets
    for field in ("tenant_id", "environment", "company_id", "verify", "max_retries"):
        assert f"extra__business_central__{field}" in widgets
    behaviour = manager.field_behaviours["business_central"]
    assert behaviour["relabeling"]["login"] == "Client ID"
    assert behaviour["relabeling"]["password"] == "Client Secret"
    assert "port" in behaviour["hidden_fields"]
    assert any("airflow_provider_bc.triggers.business_central" in str(t) for t in manager.trigger)


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
    bc_connection: Callable[..., dict[str, Any]], no_secret_or_token_leaks: list[str]
) -> None:
    """The autouse scan is only worth something if it sees the hook's and urllib3's records."""
    bc_connection("bc_scanned", fresh_client=True)
    BusinessCentralHook("bc_scanned").list_companies()
    text = "\n".join(no_secret_or_token_leaks)
    assert "Fetched a new Business Central token" in text
    assert "urllib3.connectionpool DEBUG" in text
