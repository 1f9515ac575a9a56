"""A ``business_central`` connection's fields read into checked :class:`ClientSettings` (errors name the extra)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from airflow_provider_bc.client.errors import BusinessCentralConfigError
from airflow_provider_bc.client.settings import DEFAULT_API_HOST, NUMBER_RANGES, ClientSettings, number_problem
from airflow_provider_bc.hooks.names import CONN_TYPE

log = logging.getLogger(__name__)

_TRUE = {"true", "1", "yes", "on"}
#: numeric extras: name in the connection -> ClientSettings field
_NUMBERS = {
    "timeout": "read_timeout",
    "connect_timeout": "connect_timeout",
    "max_retries": "max_retries",
    "backoff_factor": "backoff_factor",
    "backoff_max": "backoff_max",
    "retry_after_max": "retry_after_max",
    "max_concurrent_requests": "max_in_flight",
    "max_requests_per_window": "max_requests",
    "request_window": "request_window",
}
_FALSE = {"false", "0", "no", "off"}
#: text extras taken as they are, for every auth type and for one
_TEXTS = ("environment", "company_id", "api_route", "authority", "scope")
_CREDENTIAL_TEXTS = {
    "certificate": ("certificate_path", "private_key_path", "certificate", "private_key"),
    "workload_identity": ("federated_token_file",),
}


def _extra_value(extra: Mapping[str, Any], name: str) -> Any:
    # Airflow 2 forms stored custom fields as ``extra__<conn_type>__<name>``; accept both spellings.
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"extra__{CONN_TYPE}__{name}")
    return None if value == "" else value


def _as_bool(value: Any, name: str, source: str | None) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in _TRUE:
        return True
    if str(value).strip().lower() in _FALSE:
        return False
    raise BusinessCentralConfigError(name, f"{value!r} is not true or false", source=source)


def _as_number(value: Any, name: str, setting: str, source: str | None) -> float | int:
    """Extra ``name`` (text or a JSON number) as the ClientSettings field ``setting`` takes it, checked
    as ClientSettings checks it, so that an error names the extra (``timeout``, not ``read_timeout``)."""
    try:
        number = None if isinstance(value, bool) else float(value)  # "nan" and "inf" too: refused below
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise BusinessCentralConfigError(name, f"{value!r} is not a number", source=source)
    checked = int(number) if NUMBER_RANGES[setting].whole and number.is_integer() else number
    if problem := number_problem(setting, checked):
        raise BusinessCentralConfigError(name, problem, source=source)
    return checked


def settings_from_connection(
    conn_id: str | None,
    *,
    login: str | None,
    password: str | None,
    host: str | None,
    extra: Mapping[str, Any],
) -> ClientSettings:
    """Build validated :class:`ClientSettings` from the fields of a ``business_central`` connection.

    An extra that is absent, ``null`` or empty gets the default of :class:`ClientSettings`. Errors
    name the connection ``conn_id`` (``None``: they name none)."""
    source = None if conn_id is None else f"connection {conn_id!r}"
    options: dict[str, Any] = {}
    auth_type = str(_extra_value(extra, "auth_type") or "client_secret")
    for name in (*_TEXTS, *_CREDENTIAL_TEXTS.get(auth_type, ())):
        value = _extra_value(extra, name)
        if value is not None:
            options[name] = str(value)
    for name, setting in _NUMBERS.items():
        if (value := _extra_value(extra, name)) is not None:
            options[setting] = _as_number(value, name, setting, source)
    if (intent := _extra_value(extra, "read_only_intent")) is not None:
        options["read_only_intent"] = _as_bool(intent, "read_only_intent", source)
    verify = _extra_value(extra, "verify")
    if verify is not None:
        lowered = str(verify).strip().lower()
        options["verify"] = _as_bool(verify, "verify", source) if lowered in _TRUE | _FALSE else str(verify)
    proxies = _extra_value(extra, "proxies")
    if proxies is not None:
        try:
            parsed = json.loads(proxies) if isinstance(proxies, str) else proxies
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise BusinessCentralConfigError(
                "proxies", 'must be a JSON object like {"https": "http://proxy:3128"}', source=source
            )
        options["proxies"] = parsed
    # the password is the client secret, the web service access key, or the private key's passphrase
    options["private_key_passphrase" if auth_type == "certificate" else "client_secret"] = password or ""
    settings = ClientSettings(
        client_id=login or "",
        auth_type=auth_type,
        tenant_id=str(_extra_value(extra, "tenant_id") or ""),
        api_host=host or DEFAULT_API_HOST,
        source=source,
        **options,
    )
    if settings.verify is False:
        log.warning("TLS certificate verification is OFF for %s (extra 'verify' is false)", source or "a connection")
    return settings
