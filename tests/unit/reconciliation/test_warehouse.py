"""The warehouse side (``airflow_provider_bc.reconciliation.warehouse``) against a real SQLite database:
identifiers quoted whatever they hold, the window and key ranges bound as parameters, rows in key order,
counts and key spans, connection attempts, and driver errors as the task's errors without secrets."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.reconciliation import warehouse as warehouse_module
from airflow_provider_bc.reconciliation.errors import ReconciliationError, WarehouseError, WarehouseUnavailableError
from airflow_provider_bc.reconciliation.spec import Window
from airflow_provider_bc.reconciliation.warehouse import CONNECT_WAITS, Dialect, Warehouse, WarehouseSource

QMARK = Dialect(placeholder="?")
JANUARY = Window("postingDate", dt.date(2024, 1, 1), dt.date(2024, 2, 1))
#: (entryNumber, postingDate, quantity): inserted out of key order, two outside January
LEDGER = [
    (5, "2024-01-20", 50),
    (1, "2024-01-01", 10),
    (9, "2024-02-01", 90),
    (3, "2024-01-31", 30),
    (7, "2023-12-31", 70),
    (4, "2024-01-05", 40),
]
FIELDS = ["entryNumber", "postingDate", "quantity"]


class Recording:
    """A sqlite3 connection whose cursors record each statement and its parameters."""

    def __init__(self, connection: sqlite3.Connection, sent: list[tuple[str, list[Any]]]) -> None:
        self._connection, self._sent = connection, sent
        self.closed = False

    def cursor(self) -> Any:
        cursor, sent = self._connection.cursor(), self._sent

        class Cursor:
            def execute(self, sql: str, params: list[Any]) -> None:
                sent.append((sql, list(params)))
                cursor.execute(sql, params)

            def fetchmany(self, size: int) -> list[Any]:
                return cursor.fetchmany(size)

            def close(self) -> None:
                cursor.close()

        return Cursor()

    def close(self) -> None:
        self.closed = True
        self._connection.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as connection:
        connection.execute('CREATE TABLE ledger ("entryNumber" INTEGER, "postingDate" TEXT, quantity INTEGER)')
        connection.executemany("INSERT INTO ledger VALUES (?, ?, ?)", LEDGER)
    connection.close()
    return path


@pytest.fixture
def sent() -> list[tuple[str, list[Any]]]:
    return []


def reader(database: Path, sent: list[tuple[str, list[Any]]], **source: Any) -> Warehouse:
    given_source = WarehouseSource(**(source or {"table": "ledger"}))
    return Warehouse(given_source, QMARK, lambda: Recording(sqlite3.connect(database), sent), waits=(0.0,))


# -- the dialect -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "name", "quoted"),
    [
        (QMARK, "quantity", '"quantity"'),
        (QMARK, 'qu"antity', '"qu""antity"'),
        (QMARK, 'x" FROM t; DROP TABLE t; --', '"x"" FROM t; DROP TABLE t; --"'),
        (QMARK, "100%", '"100%"'),
        (Dialect(), "100%", '"100%%"'),  # %s drivers read % as a marker: doubled
        (Dialect(), 'a"b', '"a""b"'),
        (Dialect(quote="`"), "a`b", "`a``b`"),
        (Dialect(quote="`", placeholder="?"), 'a"b', '`a"b`'),
        (Dialect(quote="[", placeholder="?"), "a]b", "[a]]b]"),
        (Dialect(quote="[", placeholder="?"), "a[b", "[a[b]"),
        (Dialect(quote="[", placeholder="?"), "x]; DROP TABLE t; --", "[x]]; DROP TABLE t; --]"),
    ],
)
def test_an_identifier_is_quoted_with_its_closing_quote_doubled(dialect: Dialect, name: str, quoted: str) -> None:
    assert dialect.identifier(name, "columns") == quoted


@pytest.mark.parametrize("name", ["", "a\x00b", None, 5, b"quantity"])
def test_what_is_no_name_is_refused_naming_the_argument(name: Any) -> None:
    with pytest.raises(ReconciliationError) as caught:
        QMARK.identifier(name, "columns")
    assert caught.value.field == "columns" and not caught.value.transient


def test_literal_text_doubles_percent_only_for_format_markers() -> None:
    assert Dialect().literal_text("x LIKE 'A%'") == "x LIKE 'A%%'"
    assert Dialect(placeholder="?").literal_text("x LIKE 'A%'") == "x LIKE 'A%'"
    assert Dialect().quote == '"' and Dialect().placeholder == "%s"


@given(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30))
def test_any_name_is_one_column_in_sqlite(name: str) -> None:
    connection = sqlite3.connect(":memory:")
    try:
        column = QMARK.identifier(name, "columns")
        connection.execute(f"CREATE TABLE t ({column} INTEGER, other INTEGER)")
        connection.execute(f"INSERT INTO t ({column}, other) VALUES (?, ?)", (1, 2))
        cursor = connection.execute(f"SELECT {column} FROM t")  # quoted by the dialect
        assert [d[0] for d in cursor.description] == [name] and cursor.fetchall() == [(1,)]
    finally:
        connection.close()


# -- the source --------------------------------------------------------------------------------------------


def test_a_field_is_its_mapped_column_or_its_own_name() -> None:
    source = WarehouseSource(table="dw.ledger", columns={"entryNumber": "entry_no"})
    assert source.column("entryNumber") == "entry_no" and source.column("quantity") == "quantity"
    assert WarehouseSource(table="t").column("quantity") == "quantity"
    assert source.describe() == "dw.ledger" and WarehouseSource(query="SELECT 1").describe() == "query"


@pytest.mark.parametrize("source", [WarehouseSource(), WarehouseSource(table="t", query="SELECT 1")])
def test_a_table_or_a_query_not_both_or_neither(source: WarehouseSource) -> None:
    with pytest.raises(ReconciliationError) as caught:
        Warehouse(source, QMARK, lambda: pytest.fail("connected"))
    assert caught.value.field == "table"


def test_a_bad_table_name_is_refused_before_connecting() -> None:
    with pytest.raises(ReconciliationError) as caught:
        Warehouse(WarehouseSource(table="dw..ledger"), QMARK, lambda: pytest.fail("connected"))
    assert caught.value.field == "table"


# -- reading -----------------------------------------------------------------------------------------------


def test_rows_in_key_order_with_the_window_bound_as_parameters(database: Path, sent: list[Any]) -> None:
    warehouse = reader(database, sent)
    rows = list(warehouse.rows(FIELDS, window=JANUARY, key="entryNumber", ordered=True))
    assert rows == [
        {"entryNumber": 1, "postingDate": "2024-01-01", "quantity": 10},
        {"entryNumber": 3, "postingDate": "2024-01-31", "quantity": 30},
        {"entryNumber": 4, "postingDate": "2024-01-05", "quantity": 40},
        {"entryNumber": 5, "postingDate": "2024-01-20", "quantity": 50},
    ]
    [(sql, params)] = sent
    assert sql == (
        'SELECT "entryNumber", "postingDate", "quantity" FROM "ledger"'
        ' WHERE "postingDate" >= ? AND "postingDate" < ? ORDER BY "entryNumber"'
    )
    assert params == ["2024-01-01", "2024-02-01"] and warehouse.requests == 1


def test_low_and_high_bound_the_key_as_parameters(database: Path, sent: list[Any]) -> None:
    warehouse = reader(database, sent)
    rows = warehouse.rows(["entryNumber"], window=JANUARY, key="entryNumber", ordered=True, low=3, high=5)
    assert [row["entryNumber"] for row in rows] == [3, 4]
    assert sent[-1][1] == ["2024-01-01", "2024-02-01", 3, 5]
    assert '"entryNumber" >= ? AND "entryNumber" < ?' in sent[-1][0] and "3" not in sent[-1][0]
    everything = warehouse.rows(["entryNumber"], window=None, key="entryNumber", ordered=True, low=5, high=100)
    assert [row["entryNumber"] for row in everything] == [5, 7, 9]
    assert sent[-1][1] == [5, 100]


def test_without_a_window_or_order_every_row_is_read_as_stored(database: Path, sent: list[Any]) -> None:
    rows = list(reader(database, sent).rows(["entryNumber"], window=None, key="entryNumber", ordered=False))
    assert sorted(row["entryNumber"] for row in rows) == [1, 3, 4, 5, 7, 9]
    assert sent == [('SELECT "entryNumber" FROM "ledger"', [])]


def test_a_time_window_is_bound_as_iso_text(database: Path, sent: list[Any]) -> None:
    window = Window("postingDate", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2024, 1, 2))
    list(reader(database, sent).rows(["entryNumber"], window=window, key="entryNumber", ordered=False))
    assert sent[-1][1] == ["2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00"]


def test_rows_are_fetched_in_batches_until_the_last(
    database: Path, sent: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warehouse_module, "FETCH_ROWS", 2)
    rows = reader(database, sent).rows(["entryNumber"], window=None, key="entryNumber", ordered=True)
    assert [row["entryNumber"] for row in rows] == [1, 3, 4, 5, 7, 9]


def test_mapped_columns_and_a_schema_qualified_hostile_table(tmp_path: Path, sent: list[Any]) -> None:
    path = tmp_path / "hostile.db"
    with sqlite3.connect(path) as connection:
        connection.execute('CREATE TABLE "led""ger; --" ("entry no" INTEGER, "qty%" INTEGER)')
        connection.executemany('INSERT INTO "led""ger; --" VALUES (?, ?)', [(2, 20), (1, 10)])
    connection.close()
    columns = {"entryNumber": "entry no", "quantity": "qty%"}
    warehouse = reader(path, sent, table='main.led"ger; --', columns=columns)
    rows = list(warehouse.rows(["entryNumber", "quantity"], window=None, key="entryNumber", ordered=True))
    assert rows == [{"entryNumber": 1, "quantity": 10}, {"entryNumber": 2, "quantity": 20}]
    assert sent[-1][0] == 'SELECT "entry no", "qty%" FROM "main"."led""ger; --" ORDER BY "entry no"'


def test_a_query_is_a_subquery_without_its_semicolon(database: Path, sent: list[Any]) -> None:
    query = "  SELECT * FROM ledger WHERE quantity >= 40 AND \"postingDate\" LIKE '2024-%';\n"
    warehouse = reader(database, sent, query=query)
    rows = warehouse.rows(["entryNumber"], window=JANUARY, key="entryNumber", ordered=True)
    assert [row["entryNumber"] for row in rows] == [4, 5]
    assert warehouse.count(window=None, key="entryNumber", low=0, high=100) == 3  # 4, 5 and 9
    assert sent[0][0].startswith(
        'SELECT "entryNumber" FROM (SELECT * FROM ledger WHERE quantity >= 40 AND "postingDate" LIKE \'2024-%\')'
        " reconciled WHERE"
    )


def test_count_is_the_rows_in_the_window_and_the_key_range(database: Path, sent: list[Any]) -> None:
    warehouse = reader(database, sent)
    assert warehouse.count(window=JANUARY, key="entryNumber", low=0, high=100) == 4
    assert warehouse.count(window=JANUARY, key="entryNumber", low=3, high=5) == 2
    assert warehouse.count(window=None, key="entryNumber", low=5, high=10) == 3
    assert warehouse.count(window=JANUARY, key="entryNumber", low=6, high=100) == 0
    assert sent[1] == (
        'SELECT COUNT(*) FROM "ledger" WHERE "postingDate" >= ? AND "postingDate" < ?'
        ' AND "entryNumber" >= ? AND "entryNumber" < ?',
        ["2024-01-01", "2024-02-01", 3, 5],
    )
    assert warehouse.requests == 4


def test_key_span_is_the_lowest_and_highest_key_or_none(database: Path, sent: list[Any]) -> None:
    warehouse = reader(database, sent)
    assert warehouse.key_span(window=JANUARY, key="entryNumber") == (1, 5)
    assert warehouse.key_span(window=None, key="entryNumber") == (1, 9)
    empty = Window("postingDate", dt.date(2030, 1, 1), dt.date(2030, 2, 1))
    assert warehouse.key_span(window=empty, key="entryNumber") is None
    assert sent[0] == (
        'SELECT MIN("entryNumber"), MAX("entryNumber") FROM "ledger" WHERE "postingDate" >= ? AND "postingDate" < ?',
        ["2024-01-01", "2024-02-01"],
    )


def test_one_connection_is_made_kept_and_closed(database: Path) -> None:
    made: list[Recording] = []

    def connect() -> Recording:
        made.append(Recording(sqlite3.connect(database), []))
        return made[-1]

    warehouse = Warehouse(WarehouseSource(table="ledger"), QMARK, connect)
    assert warehouse.count(window=None, key="entryNumber", low=0, high=10) == 6
    assert warehouse.key_span(window=None, key="entryNumber") == (1, 9)
    assert len(made) == 1 and warehouse.connection() is made[0]
    warehouse.close()
    assert made[0].closed
    warehouse.close()  # closing again does nothing
    assert warehouse.count(window=None, key="entryNumber", low=0, high=10) == 6 and len(made) == 2


# -- connecting --------------------------------------------------------------------------------------------


def flaky(database: Path, failures: int, said: str = "connection refused") -> tuple[Any, list[int]]:
    """A connect that fails ``failures`` times, then connects; and its attempts."""
    attempts: list[int] = []

    def connect() -> sqlite3.Connection:
        attempts.append(1)
        if len(attempts) <= failures:
            raise OSError(said)
        return sqlite3.connect(database)

    return connect, attempts


@pytest.mark.parametrize("failures", [0, 1, 3])
def test_a_failed_connect_is_tried_again_after_each_wait(
    database: Path, failures: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(warehouse_module, "sleep", slept.append)  # the waits between attempts
    connect, attempts = flaky(database, failures)
    warehouse = Warehouse(WarehouseSource(table="ledger"), QMARK, connect)
    assert warehouse.count(window=None, key="entryNumber", low=0, high=10) == 6
    assert len(attempts) == failures + 1 and slept == list(CONNECT_WAITS[:failures])


def test_a_warehouse_that_stays_down_is_unavailable_without_its_secret(
    database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    connect, attempts = flaky(database, 3, said="FATAL:  password authentication failed: hunter2\n for ledger_user")
    warehouse = Warehouse(
        WarehouseSource(table="ledger"), QMARK, connect, name="warehouse 'dw'", waits=(0.0, 0.0), secrets=("hunter2",)
    )
    with pytest.raises(WarehouseUnavailableError) as caught:
        warehouse.count(window=None, key="entryNumber", low=0, high=10)
    said = str(caught.value)
    assert len(attempts) == 3 and caught.value.transient
    assert said.startswith("warehouse 'dw': could not connect after 3 attempts (OSError: FATAL: password")
    assert "hunter2" not in said and "***" in said and "\n" not in said
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "hunter2" not in caplog.text and caplog.text.count("connecting failed (OSError)") == 2


def test_a_refused_statement_is_a_warehouse_error_that_no_retry_cures(database: Path, sent: list[Any]) -> None:
    # backticks: SQLite reads a double-quoted name that is no column as a text literal, not an error
    warehouse = Warehouse(
        WarehouseSource(table="ledger", columns={"quantity": "qty_hunter2"}),
        Dialect(quote="`", placeholder="?"),
        lambda: sqlite3.connect(database),
        name="warehouse 'dw'",
        secrets=("hunter2",),
    )
    with pytest.raises(WarehouseError) as caught:
        list(warehouse.rows(["entryNumber", "quantity"], window=None, key="entryNumber", ordered=True))
    assert type(caught.value) is WarehouseError and not caught.value.transient
    assert str(caught.value).startswith("warehouse 'dw': reading ledger failed (OperationalError: no such column")
    assert "hunter2" not in str(caught.value) and "qty_***" in str(caught.value)
    missing = Warehouse(WarehouseSource(table="nothing"), QMARK, lambda: sqlite3.connect(database))
    for read in (
        lambda: missing.count(window=None, key="entryNumber", low=0, high=1),
        lambda: missing.key_span(window=None, key="entryNumber"),
    ):
        with pytest.raises(WarehouseError, match="no such table: nothing"):
            read()
    assert missing.requests == 2


def test_a_read_that_stops_midway_is_unavailable(database: Path) -> None:
    class Stopping:
        def __init__(self, cursor: Any) -> None:
            self.cursor, self.closed = cursor, False

        def execute(self, sql: str, params: list[Any]) -> None:
            self.cursor.execute(sql, params)

        def fetchmany(self, size: int) -> Iterator[Any]:
            raise sqlite3.OperationalError("server closed the connection unexpectedly")

        def close(self) -> None:
            self.closed = True

    opened: list[Stopping] = []

    def open_cursor(connection: sqlite3.Connection) -> Stopping:
        opened.append(Stopping(connection.cursor()))
        return opened[-1]

    warehouse = Warehouse(
        WarehouseSource(table="ledger"), QMARK, lambda: sqlite3.connect(database), open_cursor=open_cursor
    )
    with pytest.raises(WarehouseUnavailableError, match=r"reading ledger stopped .*server closed") as caught:
        list(warehouse.rows(["entryNumber"], window=None, key="entryNumber", ordered=True))
    assert caught.value.transient and opened[0].closed  # the cursor is closed even so
