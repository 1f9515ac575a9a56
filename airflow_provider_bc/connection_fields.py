"""The ``business_central`` connection's form: declared once for Airflow 3 and Airflow 2.11 alike."""

from __future__ import annotations

from typing import Any

from airflow_provider_bc.client.settings import (
    DEFAULT_API_HOST,
    DEFAULT_API_ROUTE,
    DEFAULT_AUTHORITY,
    DEFAULT_ENVIRONMENT,
    DEFAULT_SCOPE,
)
from airflow_provider_bc.names import CONN_TYPE, DEFAULT_CONN_ID

__all__ = ["CONN_TYPE", "DEFAULT_CONN_ID", "EXTRA_FIELDS", "HOOK_NAME", "UI_FIELD_BEHAVIOUR"]

HOOK_NAME = "Microsoft Dynamics 365 Business Central"

#: extra field -> (label, JSON type, default, description)
EXTRA_FIELDS: dict[str, tuple[str, str, Any, str]] = {
    "tenant_id": ("Tenant ID", "string", None, "Entra tenant GUID or domain (contoso.onmicrosoft.com)."),
    "environment": ("Environment", "string", DEFAULT_ENVIRONMENT, "Business Central environment name."),
    "company_id": ("Default company ID", "string", None, "Company GUID used when a task names none."),
    "api_route": ("API route", "string", DEFAULT_API_ROUTE, "api/v2.0, or api/{publisher}/{group}/{version}."),
    "authority": ("Authority host", "string", DEFAULT_AUTHORITY, "Entra authority host (other clouds)."),
    "scope": ("Token scope", "string", DEFAULT_SCOPE, "OAuth scope; must end with /.default."),
    "timeout": ("Read timeout (s)", "number", 120, "Seconds to wait for an answer to one request."),
    "max_retries": ("Max retries", "integer", 6, "Retries on 429/502/503/504 and dropped connections."),
    "verify": ("TLS verification", "string", "true", "true, false, or the path of a CA bundle."),
    "proxies": ("Proxies (JSON)", "string", None, 'e.g. {"https": "http://proxy:3128"}.'),
    "read_only_intent": ("Read-only intent", "boolean", False, "Send Data-Access-Intent: ReadOnly (replica)."),
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {"login": "Client ID", "password": "Client Secret", "host": "API host"},
    "placeholders": {
        "login": "Entra application (client) ID",
        "password": "Entra client secret",
        "host": DEFAULT_API_HOST,
    },
}


def conn_fields() -> dict[str, dict[str, Any]]:
    """``conn-fields`` of ``get_provider_info`` (Airflow 3 UI)."""
    fields: dict[str, dict[str, Any]] = {}
    for name, (label, json_type, default, description) in EXTRA_FIELDS.items():
        schema: dict[str, Any] = {"type": [json_type, "null"]}
        if default is not None:
            schema["default"] = default
        fields[name] = {"label": label, "description": description, "schema": schema}
    return fields


def ui_field_behaviour() -> dict[str, Any]:
    """``ui-field-behaviour`` of ``get_provider_info`` (kebab-case keys, as Airflow 3 reads them)."""
    return {key.replace("_", "-"): value for key, value in UI_FIELD_BEHAVIOUR.items()}
