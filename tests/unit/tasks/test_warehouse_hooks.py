"""A ``common.sql`` connection as the reconciliation's warehouse (``airflow_provider_bc.tasks.warehouse_hooks``):
the hook of a SQL connection (any other refused naming ``warehouse_conn_id``), its dialect's quotes and
marker, streaming cursors for psycopg, the connection's password kept out of errors, and the lineage namespace."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import BaseHook, Connection
from airflow.providers.sqlite.hooks.sqlite import SqliteHook

from airflow_provider_bc.reconciliation.errors import ReconciliationError, WarehouseError, WarehouseUnavailableError
from airflow_provider_bc.reconciliation.warehouse import Dialect, WarehouseSource
from airflow_provider_bc.tasks.warehouse_hooks import dbapi_hook, namespace_of, open_cursor, warehouse_of

PASSWORD = "s3cr3t-Pa55word"  # the test's own


def connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite warehouse file with a ``ledger`` table, as connection ``warehouse``."""
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as made:
        made.execute('CREATE TABLE ledger (entry_no INTEGER, "postingDate" TEXT)')
        made.executemany("INSERT INTO ledger VALUES (?, ?)", [(3, "2024-01-03"), (1, "2024-01-01"), (2, "2024-01-02")])
    made.close()
    connection(monkeypatch, "warehouse", conn_type="sqlite", host=str(path))
    return path


def test_a_sql_connection_gives_its_dbapi_hook(ledger: Path) -> None:
    hook = dbapi_hook("warehouse")
    assert isinstance(hook, SqliteHook) and hook.get_conn_id() == "warehouse"


def test_a_connection_that_is_no_sql_database_is_refused_naming_the_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    connection(monkeypatch, "api", conn_type="http", host="example.com")
    with pytest.raises(ReconciliationError) as caught:
        dbapi_hook("api")
    assert caught.value.field == "warehouse_conn_id" and not caught.value.transient
    assert "'api' is a HttpHook, not a SQL database" in str(caught.value)


def test_a_sqlite_connection_reads_the_file_in_key_order(ledger: Path) -> None:
    hook = dbapi_hook("warehouse")
    warehouse = warehouse_of(hook, WarehouseSource(table="ledger", columns={"entryNumber": "entry_no"}), "warehouse")
    assert warehouse.dialect == Dialect(quote="`", placeholder="?")
    assert warehouse.name == "warehouse connection 'warehouse'"
    rows = warehouse.rows(["entryNumber", "postingDate"], window=None, key="entryNumber", ordered=True, low=2, high=9)
    assert list(rows) == [
        {"entryNumber": 2, "postingDate": "2024-01-02"},
        {"entryNumber": 3, "postingDate": "2024-01-03"},
    ]
    assert warehouse.key_span(window=None, key="entryNumber") == (1, 3)
    warehouse.close()


def test_a_missing_table_names_the_connection(ledger: Path) -> None:
    warehouse = warehouse_of(dbapi_hook("warehouse"), WarehouseSource(table="nothing"), "warehouse")
    with pytest.raises(
        WarehouseError, match=r"^warehouse connection 'warehouse': reading nothing failed .*no such table"
    ):
        warehouse.count(window=None, key="entryNumber", low=0, high=9)


def test_a_misspelled_sqlite_column_is_an_error(ledger: Path) -> None:
    source = WarehouseSource(table="ledger", columns={"entryNumber": "entry_no", "postingDate": "posting_date"})
    warehouse = warehouse_of(dbapi_hook("warehouse"), source, "warehouse")
    with pytest.raises(WarehouseError):
        list(warehouse.rows(["entryNumber", "postingDate"], window=None, key="entryNumber", ordered=True))


class FakeHook:
    """A ``DbApiHook`` as ``warehouse_of`` sees one: a dialect name, a marker, the connection, ``get_conn``."""

    def __init__(self, dialect_name: str | None, placeholder: str, conn: Connection, said: str = "") -> None:
        self.dialect_name, self.placeholder, self._conn, self._said = dialect_name, placeholder, conn, said

    def get_connection(self, conn_id: str) -> Connection:
        return self._conn

    def get_conn(self) -> Any:
        raise OSError(self._said)


@pytest.mark.parametrize(
    ("dialect_name", "conn_type", "quote"),
    [
        ("mysql", "mysql", "`"),
        ("MySQL", "mysql", "`"),
        ("mariadb", "mysql", "`"),
        ("mssql", "mssql", "["),
        ("databricks", "databricks", "`"),
        ("hive", "hive_cli", "`"),
        ("spark", "spark", "`"),
        ("postgresql", "postgres", '"'),
        ("snowflake", "snowflake", '"'),
        (None, "mssql", "["),  # a hook without a dialect name: the connection's type
        ("", "mysql", "`"),
        (None, "oracle", '"'),
    ],
)
def test_the_dialect_quotes_as_the_database_does(dialect_name: str | None, conn_type: str, quote: str) -> None:
    hook = FakeHook(dialect_name, "%s", Connection(conn_id="dw", conn_type=conn_type, host="h"))
    warehouse = warehouse_of(hook, WarehouseSource(table="dw.ledger"), "dw")
    assert warehouse.dialect == Dialect(quote=quote, placeholder="%s")


def test_the_connections_password_is_kept_out_of_errors() -> None:
    conn = Connection(conn_id="dw", conn_type="postgres", host="db.example", login="reader", password=PASSWORD)
    hook = FakeHook("postgresql", "%s", conn, said=f'password authentication failed for "reader" ({PASSWORD})')
    warehouse = warehouse_of(hook, WarehouseSource(table="ledger"), "dw")
    warehouse._waits = ()  # one attempt: the waits are the Warehouse's own concern
    with pytest.raises(WarehouseUnavailableError) as caught:
        warehouse.connection()
    assert PASSWORD not in str(caught.value) and 'failed for "reader" (***)' in str(caught.value)
    assert str(caught.value).startswith("warehouse connection 'dw': could not connect after 1 attempts")


def test_a_postgres_connection_is_read_with_format_markers(monkeypatch: pytest.MonkeyPatch) -> None:
    connection(monkeypatch, "pg", conn_type="postgres", host="db.example", port=5432, password=PASSWORD, schema="dw")
    hook = dbapi_hook("pg")
    warehouse = warehouse_of(hook, WarehouseSource(table="dw.ledger"), "pg")  # no connection made yet
    assert warehouse.dialect == Dialect(quote='"', placeholder="%s") and warehouse._secrets == (PASSWORD,)
    assert namespace_of(hook, "pg") == "postgres://db.example:5432"


def test_a_cursor_streams_from_psycopg_and_is_the_drivers_own_elsewhere() -> None:
    asked: list[dict[str, Any]] = []

    def cursor(self: Any, **named: Any) -> dict[str, Any]:
        asked.append(named)
        return named

    for module in ("psycopg2.extensions", "psycopg", "psycopg.connection", "sqlite3", "psycopg2cffi", "pg8000.legacy"):
        fake = type("Connection", (), {"__module__": module, "cursor": cursor})()
        open_cursor(fake)
    names = [named.get("name") for named in asked]
    assert names[3:] == [None, None, None] and all(str(name).startswith("bc_reconcile_") for name in names[:3])
    assert len(set(names[:3])) == 3  # a new name each time: a connection may hold several
    real = sqlite3.connect(":memory:")
    assert isinstance(open_cursor(real), sqlite3.Cursor)
    real.close()


@pytest.mark.parametrize(
    ("fields", "namespace"),
    [
        ({"conn_type": "postgres", "host": "db.example", "port": 5432}, "postgres://db.example:5432"),
        ({"conn_type": "postgres", "host": "db.example"}, "postgres://db.example"),
        ({"conn_type": "sqlite", "host": "/data/warehouse.db"}, "sqlite:///data/warehouse.db"),
        ({"conn_type": "snowflake"}, "snowflake://"),
    ],
)
def test_the_lineage_namespace_is_type_host_and_port(
    fields: dict[str, Any], namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection(monkeypatch, "dw", **fields)

    class Hook:
        get_connection = staticmethod(BaseHook.get_connection)

    assert namespace_of(Hook(), "dw") == namespace
