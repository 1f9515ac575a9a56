"""The handle's connection details: the values of the emulator's ready file (:attr:`ConnectionInfo.info`)
as attributes, and the URLs and Airflow connection built from them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class InfoValue(Generic[T]):
    """A read-only attribute: the ready file's value of the same name, through ``convert``."""

    def __init__(self, convert: Callable[[Any], T], doc: str) -> None:
        self.convert = convert
        self.name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, handle: None, owner: type | None = None) -> InfoValue[T]: ...

    @overload
    def __get__(self, handle: ConnectionInfo, owner: type | None = None) -> T: ...

    def __get__(self, handle: ConnectionInfo | None, owner: type | None = None) -> InfoValue[T] | T:
        return self if handle is None else self.convert(handle.info[self.name])

    def __set__(self, handle: ConnectionInfo, value: T) -> None:
        raise AttributeError(f"{self.name} is read-only: it is the emulator's, from its ready file")


class ConnectionInfo:
    """Where a running emulator is and how to sign in to it, from its ready file's :attr:`info`."""

    info: dict[str, Any]

    base_url = InfoValue(str, "``https://127.0.0.1:PORT``: the API origin (the connection's ``host``).")
    authority = InfoValue(str, 'The Entra authority host; MSAL\'s authority is ``f"{authority}/{tenant_id}"``.')
    tenant_id = InfoValue(str, "The tenant GUID.")
    tenant_domain = InfoValue(str, "The tenant's domain name, accepted wherever the tenant GUID is.")
    environment = InfoValue(
        str,
        "The default environment name (``production``; ``sandbox`` exists too, with data of its own: a copy "
        "of production's seeded data, the same companies and ids).",
    )
    client_id = InfoValue(str, "The client id of the application registered at start.")
    client_secret = InfoValue(str, "The (fake) client secret of the application registered at start.")
    ca_bundle = InfoValue(str, "Path of the PEM file to pass as ``verify=``.")
    companies: InfoValue[list[dict[str, str]]] = InfoValue(
        list, 'The seeded companies as ``{"id", "name"}``; the first is the default.'
    )
    default_company_id = InfoValue(str, "The id of ``CRONUS USA, Inc.``, which holds ``entries`` item ledger entries.")
    documented_entry_id = InfoValue(str, "The id of entry 1 of the default company: Microsoft's documented example.")

    def api_url(self, tenant: bool = True, environment: str | None = None) -> str:
        """``{base}/v2.0/{tenant}/{environment}/api/v2.0`` (default: :attr:`environment`), or without
        the tenant segment."""
        middle = f"{self.tenant_id}/" if tenant else ""
        return f"{self.base_url}/v2.0/{middle}{environment or self.environment}/api/v2.0"

    def on_premises_url(self) -> str:
        """The on-premises style server instance URL, ``https://{host}:{port}/{instance}`` (the instance is
        the environment's name): the connection's host for ``auth_type`` ``basic``."""
        return f"{self.base_url}/{self.environment}"

    def airflow_connection(self, **extra_overrides: Any) -> dict[str, Any]:
        """The Airflow connection in JSON form, with ``extra`` keys replaced or added."""
        connection: dict[str, Any] = json.loads(json.dumps(self.info["connection"]))
        connection["extra"].update(extra_overrides)
        return connection

    def airflow_connection_env(self, **extra_overrides: Any) -> str:
        """The connection as the JSON string for ``AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT``."""
        return json.dumps(self.airflow_connection(**extra_overrides))
