"""BusinessCentralHook: an Airflow connection turned into a Business Central API client."""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable, Iterable, Iterator, Mapping
from copy import deepcopy
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook
from typing_extensions import Unpack

from airflow_provider_bc.client.errors import BusinessCentralConfigError, BusinessCentralError
from airflow_provider_bc.client.settings import DEFAULT_API_HOST, NUMBER_RANGES, ClientSettings, number_problem
from airflow_provider_bc.hooks.connection_fields import (
    CONN_TYPE,
    DEFAULT_CONN_ID,
    EXTRA_FIELDS,
    HOOK_NAME,
    UI_FIELD_BEHAVIOUR,
)

if TYPE_CHECKING:
    from airflow_provider_bc.client.base import EntityOptions, FindOptions, ReadOptions
    from airflow_provider_bc.client.batch.reads import BatchOptions
    from airflow_provider_bc.client.client import BusinessCentralClient
    from airflow_provider_bc.client.odata.lookup import Lookup
    from airflow_provider_bc.client.odata.paging import Page

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


class BusinessCentralHook(BaseHook):
    """Reads Microsoft Dynamics 365 Business Central (API v2.0) through a ``business_central`` connection.

    :param business_central_conn_id: the Airflow connection; login is the Entra client id,
        password the client secret, ``extra.tenant_id`` the tenant (see the README for all fields).
    """

    conn_name_attr = "business_central_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(self, business_central_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.business_central_conn_id = business_central_conn_id

    @cached_property
    def settings(self) -> ClientSettings:
        """The connection's settings, validated (a bad field raises an error naming it)."""
        return self._settings_of(self.get_connection(self.business_central_conn_id))

    async def aget_settings(self) -> ClientSettings:
        """The connection's settings, read without blocking the event loop (for triggers)."""
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

        conn = await get_async_connection(self.business_central_conn_id, hook=self)
        return self._settings_of(conn, await get_async_extra_dejson(conn))

    def _settings_of(self, conn: Any, extra: Mapping[str, Any] | None = None, *, named: bool = True) -> ClientSettings:
        return settings_from_connection(
            self.business_central_conn_id if named else None,
            login=conn.login,
            password=conn.password,
            host=conn.host,
            extra=conn.extra_dejson if extra is None else extra,
        )

    @cached_property
    def client(self) -> BusinessCentralClient:
        """The API client for this connection (one ``requests`` session per hook)."""
        return self.new_client()

    def new_client(self) -> BusinessCentralClient:
        """A new API client for this connection: one per thread (a ``requests`` session is not shared
        across threads), all of them sharing the principal's token cache and governor."""
        from airflow_provider_bc.client.client import BusinessCentralClient

        return BusinessCentralClient(self.settings)

    def company_id(self, company_id: str | None = None) -> str:
        """The company to read: ``company_id``, else the connection's ``extra.company_id``; a GUID either way
        (else an error naming ``company_id``)."""
        from airflow_provider_bc.client.odata.urls import ApiUrls
        from airflow_provider_bc.client.values import company_option

        return ApiUrls(self.settings).company_id(company_option(company_id))

    def get_conn(self) -> BusinessCentralClient:
        """The API client (Airflow's conventional name for :attr:`client`)."""
        return self.client

    def get(self, lookup: Lookup) -> dict[str, Any]:
        """The entity ``lookup.entity_id``; raises not-found when absent."""
        return self.client.get(lookup)

    def get_entity(self, entity_set: str, entity_id: str, **options: Unpack[EntityOptions]) -> dict[str, Any]:
        """One entity by id; options ``company_id``, ``select`` (see ``BusinessCentralClient.get_entity``)."""
        return self.client.get_entity(entity_set, entity_id, **options)

    def get_item_ledger_entry(self, entity_id: str, **options: Unpack[EntityOptions]) -> dict[str, Any]:
        """One item ledger entry by id; options ``company_id``, ``select``."""
        return self.client.get_item_ledger_entry(entity_id, **options)

    def lookup(self, lookup: Lookup, *, time_budget: float | None = None) -> list[dict[str, Any]]:
        """The entity, or up to ``lookup.top`` matching its filter; ``[]`` when there is none yet."""
        return self.client.lookup(lookup, time_budget=time_budget)

    def iter_pages(self, entity_set: str, **options: Unpack[ReadOptions]) -> Iterator[Page]:
        """Pages of a collection, lazily (see ``BusinessCentralClient.iter_pages``)."""
        return self.client.iter_pages(entity_set, **options)

    def iter_entities(self, entity_set: str, **options: Unpack[ReadOptions]) -> Iterator[dict[str, Any]]:
        """Every entity of a collection, a page in memory at a time (options as :meth:`iter_pages`)."""
        return self.client.iter_entities(entity_set, **options)

    def get_entities(
        self, entity_set: str, ids: Iterable[str], **options: Unpack[BatchOptions]
    ) -> dict[str, dict[str, Any] | None]:
        """Many entities by id in ``$batch`` requests: each id maps to its entity, or ``None`` when there is none."""
        return self.client.get_entities(entity_set, ids, **options)

    def find_many(
        self, entity_set: str, field: str, values: Iterable[Hashable], **options: Unpack[BatchOptions]
    ) -> dict[Hashable, list[dict[str, Any]]]:
        """The entities whose ``field`` equals each of ``values``, in ``$batch`` requests: value -> matches."""
        return self.client.find_many(entity_set, field, values, **options)

    def find_entities(self, entity_set: str, **options: Unpack[FindOptions]) -> list[dict[str, Any]]:
        """At most ``top`` (default 100) entities matching ``filter``, in one request."""
        return self.client.find_entities(entity_set, **options)

    def entity_exists(self, lookup: Lookup) -> bool:
        """Whether the entity of ``lookup`` (by id, or any matching its filter) exists."""
        return self.client.entity_exists(lookup)

    def list_companies(self) -> list[dict[str, Any]]:
        """The companies of the connection's environment."""
        return self.client.list_companies()

    def test_connection(self) -> tuple[bool, str]:
        """Get a token and list companies; check the default company is among them.

        The messages name no connection: Airflow's UI tests a copy saved under a random id."""
        from airflow_provider_bc.client.client import BusinessCentralClient

        try:
            settings = self._settings_of(self.get_connection(self.business_central_conn_id), named=False)
            client = BusinessCentralClient(settings)
            try:
                companies = client.list_companies()
            finally:
                client.close()
        except BusinessCentralError as error:
            return False, str(error)
        known = {str(c.get("id", "")).lower(): c.get("name") for c in companies}
        default = settings.company_id
        if default and default.lower() not in known:
            listing = ", ".join(f"{name} ({cid})" for cid, name in known.items()) or "none"
            return False, (
                f"Connected, but default company {default} (extra 'company_id') is not in environment "
                f"{settings.environment!r}; companies there: {listing}"
            )
        names = ", ".join(str(name) for name in known.values())
        return True, f"Connected to environment {settings.environment!r}: {len(known)} companies ({names})"

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form (Airflow < 3.2; later ones read ``conn-fields``)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, StringField

        widgets: dict[str, Any] = {}
        # Airflow 2 takes text, number and boolean fields only: a select (auth_type) is a text field there
        for name, field in EXTRA_FIELDS.items():
            # no required validator: Airflow 2's one form holds the extra fields of every connection type
            description = f"Required. {field.help}" if field.required else field.help
            if field.json_type == "boolean":
                widgets[name] = BooleanField(lazy_gettext(field.label), description=description)
            else:
                widgets[name] = StringField(
                    lazy_gettext(field.label), widget=BS3TextFieldWidget(), description=description
                )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabelled, hidden and placeholder fields (Airflow < 3.2; later ones read ``ui-field-behaviour``)."""
        return deepcopy(UI_FIELD_BEHAVIOUR)  # a copy: Airflow 2 prefixes the placeholders' keys in place
