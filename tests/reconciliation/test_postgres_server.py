"""The PostgreSQL fixtures work: Airflow's ``PostgresHook`` writes and reads through them, and the
server can be taken down and brought back."""

from __future__ import annotations

import psycopg2
import pytest
from airflow.providers.postgres.hooks.postgres import PostgresHook

from tests.reconciliation.postgres_server import PostgresServer

CONN_ID = "reconciliation_warehouse"
#: quotes, a semicolon, non-ASCII, NULL and a big number: bound parameters keep them as they are
ROWS = [(index, f"it's {index}; ünïcode ✓" if index % 7 else None, index * 10**12) for index in range(1, 26)]


def driver_errors() -> tuple[type[Exception], ...]:
    """``OperationalError`` of psycopg2 and, when installed, of psycopg 3 (PostgresHook prefers the latter)."""
    try:
        import psycopg
    except ImportError:
        return (psycopg2.OperationalError,)
    return (psycopg2.OperationalError, psycopg.OperationalError)


@pytest.fixture
def hook(postgres_server: PostgresServer, postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> PostgresHook:
    """A ``PostgresHook`` whose connection (an ``AIRFLOW_CONN_`` variable) is the test's database."""
    monkeypatch.setenv(*postgres_server.airflow_conn_env(CONN_ID, dbname=postgres_database))
    return PostgresHook(postgres_conn_id=CONN_ID)


@pytest.mark.parametrize("reader", ["hook", "psycopg2"])
def test_hook_writes_and_a_server_side_cursor_reads_back(
    hook: PostgresHook, postgres_server: PostgresServer, postgres_database: str, reader: str
) -> None:
    hook.run("CREATE TABLE ledger (entry_no integer PRIMARY KEY, description text, amount bigint)")
    hook.insert_rows("ledger", ROWS, target_fields=["entry_no", "description", "amount"])
    assert hook.get_first("SELECT current_database(), count(*) FROM ledger") == (postgres_database, len(ROWS))

    connection = hook.get_conn() if reader == "hook" else postgres_server.connect(postgres_database)
    try:
        batches = []
        with connection.cursor(name="ledger_reader") as cursor:  # a named cursor lives on the server
            cursor.execute("SELECT entry_no, description, amount FROM ledger WHERE entry_no > %s ORDER BY 1", (0,))
            while batch := cursor.fetchmany(10):
                batches.append(batch)
                with connection.cursor() as probe:
                    probe.execute("SELECT name FROM pg_cursors")
                    assert [name for (name,) in probe.fetchall()] == ["ledger_reader"]
        connection.rollback()
    finally:
        connection.close()
    assert [len(batch) for batch in batches] == [10, 10, 5]
    assert [tuple(row) for batch in batches for row in batch] == ROWS


def test_a_stopped_server_refuses_connections_until_started(
    hook: PostgresHook, postgres_server: PostgresServer, postgres_database: str
) -> None:
    hook.run("CREATE TABLE kept (value text)")
    hook.run("INSERT INTO kept VALUES (%s)", parameters=("before the kill",))
    port = postgres_server.port
    postgres_server.kill()
    try:
        assert not postgres_server.is_running()
        with pytest.raises(driver_errors()):
            hook.get_conn()
        with pytest.raises(psycopg2.OperationalError):
            postgres_server.connect(postgres_database)
    finally:
        postgres_server.start()
    assert postgres_server.is_running()
    assert postgres_server.port == port
    assert hook.get_records("SELECT value FROM kept") == [("before the kill",)]
    connection = postgres_server.connect(postgres_database)
    try:
        assert connection.server_version >= 100000
    finally:
        connection.close()
