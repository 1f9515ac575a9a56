"""The ``business_central`` connection's form: declared once for Airflow 3 and Airflow 2.11 alike.

A default is shown (field help, Airflow 2 placeholder), never stored: the hook applies the current
default of :class:`ClientSettings` to an extra that is absent or empty, so a later change of a
default reaches connections saved before it.

Every extra the hook reads is a field of the form but the inline PEM texts ``certificate`` and
``private_key`` (multi-line secrets, which the form's one-line text fields do not hold): those go into
the form's Extra Fields JSON, as the help of Certificate file and Private key file says.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

from airflow_provider_bc.client.settings import AUTH_TYPES, DEFAULT_API_HOST, NUMBER_RANGES, ClientSettings
from airflow_provider_bc.hooks.names import CONN_TYPE, DEFAULT_CONN_ID

__all__ = [
    "CONN_TYPE",
    "DEFAULT_CONN_ID",
    "EXTRA_FIELDS",
    "EXTRA_JSON_ONLY",
    "HOOK_NAME",
    "UI_FIELD_BEHAVIOUR",
    "ExtraField",
]

HOOK_NAME = "Microsoft Dynamics 365 Business Central"

#: sections of the Airflow 3 form (each an accordion item): what every connection sets, the rest,
#: and how long and how often requests are tried
ESSENTIALS = "Business Central"
ADVANCED = "Advanced"
LIMITS = "Timeouts, retries and limits"

#: extras the hook reads that are no field of the form: set them in the form's Extra Fields JSON
EXTRA_JSON_ONLY = ("certificate", "private_key")

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

    @property
    def empty_choice(self) -> str:
        """What Airflow 3's select shows for the empty value (``null``, stored as such: the default applies);
        without a label of ours it would show the word ``null``."""
        return "(empty)" if self.default is None else f"Default ({self.default})"

    def conn_field(self) -> dict[str, Any]:
        """The field in ``conn-fields``: Airflow 3 marks it required when its type admits no ``null``."""
        json_type: str | list[str] = self.json_type if self.required else [self.json_type, "null"]
        schema: dict[str, Any] = {"type": json_type, "section": self.section}
        if self.choices:
            schema["enum"] = [*self.choices] if self.required else [None, *self.choices]
            # the select's labels: the empty value's says what it means, each other value is itself
            schema["values_display"] = {"null": self.empty_choice, **{choice: choice for choice in self.choices}}
        if self.setting in NUMBER_RANGES and NUMBER_RANGES[self.setting].inclusive:
            # Airflow 3's number field takes no lower value (raised to it when the field is left);
            # a bound the hook excludes (a timeout of 0) is not given: the hook names the extra instead
            schema["minimum"] = NUMBER_RANGES[self.setting].lowest
        return {"label": self.label, "description": self.help, "schema": schema}


def _number(label: str, setting: str, description: str) -> ExtraField:
    """A numeric extra meaning the :class:`ClientSettings` field ``setting``, in the limits section."""
    json_type = "integer" if NUMBER_RANGES[setting].whole else "number"
    return ExtraField(label, json_type, description, setting, section=LIMITS)


EXTRA_FIELDS: dict[str, ExtraField] = {
    # not required in the form (which cannot make it depend on auth_type): the hook names it when missing
    "tenant_id": ExtraField(
        "Tenant ID",
        "string",
        "Entra tenant GUID or domain (contoso.onmicrosoft.com); needed by every auth type but basic "
        "(workload_identity: when empty, $AZURE_TENANT_ID).",
        section=ESSENTIALS,
    ),
    "environment": ExtraField(
        "Environment",
        "string",
        "Business Central environment name (not used on-premises).",
        "environment",
        section=ESSENTIALS,
    ),
    "auth_type": ExtraField(
        "Authentication",
        "string",
        "Client ID / Client Secret for each type. "
        "client_secret: the app (client) ID / a client secret, both required. "
        "certificate: the app ID / the private key's passphrase, if any; Certificate file and Private key file "
        "under Advanced. "
        "workload_identity: the app ID (when empty, $AZURE_CLIENT_ID) / none; Federated token file under Advanced. "
        "managed_identity: empty (system-assigned identity) or a user-assigned identity's client or resource ID "
        "/ none. "
        "basic (Business Central on-premises): the user name / its web service access key, both required; "
        "API host: the server instance, https://{server}:{port}/{instance}.",
        "auth_type",
        section=ESSENTIALS,
        choices=AUTH_TYPES,
    ),
    "company_id": ExtraField(
        "Default company ID", "string", "Company GUID used when a task names none.", section=ESSENTIALS
    ),
    "certificate_path": ExtraField(
        "Certificate file",
        "string",
        "certificate: PEM file of the certificate uploaded to the app registration "
        "(or its PEM text as 'certificate' in Extra Fields JSON).",
    ),
    "private_key_path": ExtraField(
        "Private key file",
        "string",
        "certificate: PEM file of the certificate's private key, which may hold the certificate too "
        "(or its PEM text as 'private_key' in Extra Fields JSON).",
    ),
    "federated_token_file": ExtraField(
        "Federated token file", "string", "workload_identity: when empty, $AZURE_FEDERATED_TOKEN_FILE."
    ),
    "api_route": ExtraField("API route", "string", "api/v2.0, or api/{publisher}/{group}/{version}.", "api_route"),
    "authority": ExtraField("Authority host", "string", "Entra authority host (other clouds).", "authority"),
    "scope": ExtraField("Token scope", "string", "OAuth scope; must end with /.default.", "scope"),
    "verify": ExtraField("TLS verification", "string", "true, false, or the path of a CA bundle.", "verify"),
    "proxies": ExtraField("Proxies (JSON)", "string", 'e.g. {"https": "http://proxy:3128"}.'),
    "read_only_intent": ExtraField("Read-only intent", "boolean", "Send Data-Access-Intent: ReadOnly (replica)."),
    "timeout": _number(
        "Read timeout (s)",
        "read_timeout",
        "Seconds one attempt waits for the answer to start, and at each pause within it; "
        "then the answer counts as dropped (retried, see Max retries).",
    ),
    "connect_timeout": _number(
        "Connect timeout (s)",
        "connect_timeout",
        "Seconds one attempt waits for the connection; then it counts as dropped (retried, see Max retries).",
    ),
    "max_retries": _number(
        "Max retries",
        "max_retries",
        "One retry budget per request for every kind of failure together, so at most max_retries + 1 attempts: "
        "HTTP 429, 502, 503, 504 (waiting Retry-After when sent, else backoff); no complete answer (refused, "
        "reset, timed out, cut off); an answer that is not Business Central's (HTML, empty, truncated); Entra ID "
        "failing to answer a token request (429, 5xx, unreadable, unreachable); one 401 from Business Central "
        "(a token expired or revoked: a new one is fetched, no wait; not for basic). "
        "Not retried: HTTP 500, 408, 400, 403, 404, a second 401, Entra refusing the credentials, "
        "an untrusted TLS certificate.",
    ),
    "backoff_factor": _number(
        "Backoff factor (s)",
        "backoff_factor",
        "The n-th wait without a Retry-After is backoff_factor x 2^(n-1) seconds plus a random jitter "
        "below backoff_factor, at most Backoff cap.",
    ),
    "backoff_max": _number("Backoff cap (s)", "backoff_max", "The longest backoff wait, in seconds."),
    "retry_after_max": _number(
        "Retry-After cap (s)",
        "retry_after_max",
        "The longest Retry-After waited, in seconds; a longer one ends the request at once "
        "(BusinessCentralThrottledError).",
    ),
    "max_concurrent_requests": _number(
        "Requests at once",
        "max_in_flight",
        "API requests of this tenant and client ID in flight at once, in one Airflow process (Business "
        "Central runs 5 per user at once and queues the rest); lowered by one after a 429, raised again "
        "after answers without throttling.",
    ),
    "max_requests_per_window": _number(
        "Requests per window",
        "max_requests",
        "API requests of this tenant and client ID started per request window (sliding), in one Airflow "
        "process (Business Central allows 6,000 per 5 minutes); a $batch counts its operations.",
    ),
    "request_window": _number(
        "Request window (s)", "request_window", "The sliding window of Requests per window, in seconds."
    ),
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {"login": "Client ID", "password": "Client Secret", "host": "API host"},
    # Airflow 3 shows placeholders of standard fields only (and no help for them): each placeholder says
    # when the field is required; Airflow 2 shows those of the extras too (their defaults)
    "placeholders": {
        "login": "Required, but managed/workload identity: may be empty; basic: user name",
        "password": "Required for client_secret and basic (access key); certificate: passphrase",
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
