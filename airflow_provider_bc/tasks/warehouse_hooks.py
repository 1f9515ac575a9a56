"""A ``common.sql`` connection (any ``DbApiHook``: PostgreSQL, SQLite, Snowflake ...) as the
reconciliation's warehouse: its dialect's quotes and parameter marker, and a server-side cursor
where the driver has one."""

from __future__ import annotations

import itertools
from typing import Any

from airflow_provider_bc.reconciliation.errors import ReconciliationError
from airflow_provider_bc.reconciliation.warehouse import Dialect, Warehouse, WarehouseSource

#: identifier quotes of the dialects that do not use the standard ``"``
# SQLite reads a double-quoted name that is no column as a text literal: backticks make a misspelling an error
_QUOTES = {"sqlite": "`", "mysql": "`", "mariadb": "`", "mssql": "[", "databricks": "`", "hive": "`", "spark": "`"}
_named = itertools.count()


def dbapi_hook(conn_id: str) -> Any:
    """The ``DbApiHook`` of connection ``conn_id``; an error naming ``warehouse_conn_id`` for any other kind."""
    from airflow.providers.common.compat.sdk import BaseHook
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    hook = BaseHook.get_connection(conn_id).get_hook()
    if not isinstance(hook, DbApiHook):
        raise ReconciliationError(
            "warehouse_conn_id", f"{conn_id!r} is a {type(hook).__name__}, not a SQL database (a DbApiHook)"
        )
    return hook


def open_cursor(connection: Any) -> Any:
    """A cursor that streams: a named (server-side) one for psycopg 2 and 3, the driver's own otherwise."""
    if type(connection).__module__.split(".")[0] in {"psycopg2", "psycopg"}:
        return connection.cursor(name=f"bc_reconcile_{next(_named)}")
    return connection.cursor()


def warehouse_of(hook: Any, source: WarehouseSource, conn_id: str) -> Warehouse:
    """The warehouse read through ``hook`` (a ``DbApiHook``)."""
    dialect_name = str(getattr(hook, "dialect_name", "") or hook.get_connection(conn_id).conn_type).lower()
    dialect = Dialect(quote=_QUOTES.get(dialect_name, '"'), placeholder=hook.placeholder)
    password = hook.get_connection(conn_id).password
    return Warehouse(
        source,
        dialect,
        hook.get_conn,
        open_cursor=open_cursor,
        name=f"warehouse connection {conn_id!r}",
        secrets=(password,) if password else (),
    )


def namespace_of(hook: Any, conn_id: str) -> str:
    """The OpenLineage namespace of the warehouse: ``<type>://<host>:<port>`` (the file for SQLite)."""
    conn = hook.get_connection(conn_id)
    place = f"{conn.host or ''}{f':{conn.port}' if conn.port else ''}"
    return f"{conn.conn_type}://{place}"
