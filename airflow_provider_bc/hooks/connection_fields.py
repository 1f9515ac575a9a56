"""The ``business_central`` connection's form: declared once for Airflow 3 and Airflow 2.11 alike.

A default is shown (field help, Airflow 2 placeholder), never stored: the hook applies the current
default of :class:`ClientSettings` to an extra that is absent or empty, so a later change of a
default reaches connections saved before it.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

from airflow_provider_bc.client.settings import AUTH_TYPES, DEFAULT_API_HOST, ClientSettings
from airflow_provider_bc.hooks.names import CONN_TYPE, DEFAULT_CONN_ID

__all__ = ["CONN_TYPE", "DEFAULT_CONN_ID", "EXTRA_FIELDS", "HOOK_NAME", "UI_FIELD_BEHAVIOUR", "ExtraField"]

HOOK_NAME = "Microsoft Dynamics 365 Business Central"

#: sections of the Airflow 3 form (each an accordion item): what every connection sets, and the rest
ESSENTIALS = "Business Central"
ADVANCED = "Advanced"

_DEFAULTS = {f.name: f.default for f in fields(ClientSettings) if f.default is not MISSING}


def _shown(value: Any) -> str:
    """``value`` as a user types it in the form (``true``, ``120``, ``production``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class ExtraField:
    """One field of the connection's ``extra``; ``setting`` names the :class:`ClientSettings` field
    whose default an empty value means."""

    label: str
    json_type: str
    description: str
    setting: str | None = None
    required: bool = False
    section: str = ADVANCED
    #: the values a select offers in Airflow 3's form (empty: a free field; Airflow 2 has text fields only)
    choices: tuple[str, ...] = ()

    @property
    def default(self) -> str | None:
        """The default as the form shows it (``None``: no default)."""
        return None if self.setting is None else _shown(_DEFAULTS[self.setting])

    @property
    def help(self) -> str:
        """The description, with the default an empty value means."""
        return self.description if self.default is None else f"{self.description} When empty: {self.default}."

    def conn_field(self) -> dict[str, Any]:
        """The field in ``conn-fields``: Airflow 3 marks it required when its type admits no ``null``."""
        json_type: str | list[str] = self.json_type if self.required else [self.json_type, "null"]
        schema: dict[str, Any] = {"type": json_type, "section": self.section}
        if self.choices:
            schema["enum"] = [*self.choices] if self.required else [None, *self.choices]
        return {"label": self.label, "description": self.help, "schema": schema}


EXTRA_FIELDS: dict[str, ExtraField] = {
    # not required in the form (which cannot make it depend on auth_type): the hook names it when missing
    "tenant_id": ExtraField(
        "Tenant ID",
        "string",
        "Entra tenant GUID or domain (contoso.onmicrosoft.com); needed by every auth type but basic.",
        section=ESSENTIALS,
    ),
    "environment": ExtraField(
        "Environment", "string", "Business Central environment name.", "environment", section=ESSENTIALS
    ),
    "auth_type": ExtraField(
        "Authentication",
        "string",
        "client_secret; certificate (password: the key's passphrase, if any); workload_identity; "
        "managed_identity (login: a user-assigned identity's client or resource ID, or empty); "
        "basic (on-premises: login the user, password the web service access key).",
        "auth_type",
        section=ESSENTIALS,
        choices=AUTH_TYPES,
    ),
    "company_id": ExtraField(
        "Default company ID", "string", "Company GUID used when a task names none.", section=ESSENTIALS
    ),
    "certificate_path": ExtraField(
        "Certificate file", "string", "certificate: PEM file of the certificate uploaded to the app registration."
    ),
    "private_key_path": ExtraField(
        "Private key file", "string", "certificate: PEM file of the certificate's private key (may hold both)."
    ),
    "federated_token_file": ExtraField(
        "Federated token file", "string", "workload_identity: when empty, $AZURE_FEDERATED_TOKEN_FILE."
    ),
    "api_route": ExtraField("API route", "string", "api/v2.0, or api/{publisher}/{group}/{version}.", "api_route"),
    "authority": ExtraField("Authority host", "string", "Entra authority host (other clouds).", "authority"),
    "scope": ExtraField("Token scope", "string", "OAuth scope; must end with /.default.", "scope"),
    "timeout": ExtraField(
        "Read timeout (s)", "number", "Seconds to wait for an answer to one request.", "read_timeout"
    ),
    "max_retries": ExtraField(
        "Max retries", "integer", "Retries on 429/502/503/504 and dropped connections.", "max_retries"
    ),
    "verify": ExtraField("TLS verification", "string", "true, false, or the path of a CA bundle.", "verify"),
    "proxies": ExtraField("Proxies (JSON)", "string", 'e.g. {"https": "http://proxy:3128"}.'),
    "read_only_intent": ExtraField("Read-only intent", "boolean", "Send Data-Access-Intent: ReadOnly (replica)."),
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {"login": "Client ID", "password": "Client Secret", "host": "API host"},
    # Airflow 3 shows placeholders of standard fields only; Airflow 2 those of the extras too
    "placeholders": {
        "login": "Entra application (client) ID; basic: user name",
        "password": "Client secret; certificate: key passphrase; basic: access key",
        "host": DEFAULT_API_HOST,
        **{name: field.default for name, field in EXTRA_FIELDS.items() if field.default is not None},
    },
}


def conn_fields() -> dict[str, dict[str, Any]]:
    """``conn-fields`` of ``get_provider_info`` (Airflow >= 3.2 UI)."""
    return {name: field.conn_field() for name, field in EXTRA_FIELDS.items()}


def ui_field_behaviour() -> dict[str, Any]:
    """``ui-field-behaviour`` of ``get_provider_info`` (kebab-case keys, as Airflow 3 reads them)."""
    return {key.replace("_", "-"): value for key, value in UI_FIELD_BEHAVIOUR.items()}
