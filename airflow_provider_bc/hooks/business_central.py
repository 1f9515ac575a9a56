"""BusinessCentralHook: an Airflow connection turned into a Business Central API client."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Iterator, Mapping
from copy import deepcopy
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook
from typing_extensions import Unpack

from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.wording import counted
from airflow_provider_bc.hooks.connection_fields import EXTRA_FIELDS, HOOK_NAME, UI_FIELD_BEHAVIOUR
from airflow_provider_bc.hooks.connection_settings import settings_from_connection
from airflow_provider_bc.hooks.names import CONN_TYPE, DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_provider_bc.client.base import EntityOptions, FindOptions, ReadOptions
    from airflow_provider_bc.client.batch.reads import BatchOptions
    from airflow_provider_bc.client.client import BusinessCentralClient
    from airflow_provider_bc.client.odata.lookup import Lookup
    from airflow_provider_bc.client.odata.paging import Page
    from airflow_provider_bc.client.settings import ClientSettings

log = logging.getLogger(__name__)


class BusinessCentralHook(BaseHook):
    """Reads Microsoft Dynamics 365 Business Central (API v2.0) through a ``business_central`` connection.

    :param business_central_conn_id: the Airflow connection; login is the Entra client id,
        password the client secret, ``extra.tenant_id`` the tenant (every field:
        the documentation's connection page, docs/connection.md).
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
        return True, f"Connected to environment {settings.environment!r}: {counted(len(known), 'company')} ({names})"

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
