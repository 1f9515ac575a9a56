"""The warehouse side: rows of a table or a query through a DB-API connection, the window and key
ranges as bound parameters, every identifier quoted by the dialect; never a value pasted into SQL."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from time import sleep
from typing import Any

from airflow_provider_bc.reconciliation.errors import ReconciliationError, WarehouseError, WarehouseUnavailableError
from airflow_provider_bc.reconciliation.spec import Window

log = logging.getLogger(__name__)

#: rows asked of the cursor at once (a server-side cursor holds the rest)
FETCH_ROWS = 5_000
#: seconds waited before each further attempt to connect
CONNECT_WAITS = (1.0, 3.0, 9.0)


@dataclass(frozen=True)
class Dialect:
    """How the warehouse writes an identifier and a parameter."""

    #: opens identifiers: ``"`` (standard SQL), ``` ` ``` (MySQL) or ``[`` (SQL Server)
    quote: str = '"'
    #: the driver's parameter marker: ``%s`` (format/pyformat) or ``?`` (qmark)
    placeholder: str = "%s"

    def identifier(self, name: str, argument: str) -> str:
        """``name`` quoted (its closing quote doubled): always one identifier, whatever it holds."""
        if not isinstance(name, str) or not name or "\x00" in name:
            raise ReconciliationError(argument, f"{name!r:.100} is not a column or table name")
        close = "]" if self.quote == "[" else self.quote
        return self.literal_text(f"{self.quote}{name.replace(close, close * 2)}{close}")

    def literal_text(self, sql: str) -> str:
        """``sql`` as the driver must see it when parameters are bound (``%`` doubled for ``%s`` markers)."""
        return sql.replace("%", "%%") if self.placeholder == "%s" else sql


@dataclass(frozen=True)
class WarehouseSource:
    """Where the warehouse's rows are: a ``table`` (``schema.table``) or a ``query``, and the column
    holding each Business Central field (``columns``; a field not mapped is a column of the same name)."""

    table: str | None = None
    query: str | None = None
    columns: Mapping[str, str] | None = None

    def column(self, field: str) -> str:
        return (self.columns or {}).get(field, field)

    def describe(self) -> str:
        return self.table or "query"


class Warehouse:
    """One connection to the warehouse (made on first use, with attempts), read by bound SQL."""

    def __init__(
        self,
        source: WarehouseSource,
        dialect: Dialect,
        connect: Callable[[], Any],
        *,
        open_cursor: Callable[[Any], Any] = lambda connection: connection.cursor(),
        name: str = "warehouse",
        waits: Sequence[float] = CONNECT_WAITS,
        secrets: Sequence[str] = (),
    ) -> None:
        if (source.table is None) == (source.query is None):
            raise ReconciliationError("table", "give the warehouse a table or a query, not both or neither")
        self.source, self.dialect, self.name = source, dialect, name
        self._connect, self._open_cursor, self._waits = connect, open_cursor, waits
        self._secrets = secrets
        self._connection: Any = None
        #: the queries sent
        self.requests = 0
        self._from = self._from_clause()

    def _from_clause(self) -> str:
        if self.source.table is not None:
            return ".".join(self.dialect.identifier(part, "table") for part in self.source.table.split("."))
        return f"({self.dialect.literal_text(str(self.source.query).strip().rstrip(';'))}) reconciled"

    def connection(self) -> Any:
        """The open connection; a failed attempt to connect is retried after each of ``waits``."""
        if self._connection is not None:
            return self._connection
        for attempt, wait in enumerate([*self._waits, None], start=1):
            try:
                self._connection = self._connect()
                return self._connection
            except Exception as error:  # any driver's error: PEP 249 names no common base
                if wait is None:
                    raise WarehouseUnavailableError(
                        f"{self.name}: could not connect after {attempt} attempts ({self._said(error)}); "
                        "check that the database is up and the connection's "
                        "host, port and login"
                    ) from None
                log.warning(
                    "%s: connecting failed (%s), attempt %d; again in %.0f s",
                    self.name,
                    type(error).__name__,
                    attempt,
                    wait,
                )
                sleep(wait)
        raise AssertionError("unreachable")

    def _said(self, error: Exception) -> str:
        """The driver's error as one line of text, with the connection's secrets left out."""
        text = " ".join(str(error).split())[:300]
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return f"{type(error).__name__}: {text}"

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _where(
        self, window: Window | None, key: str | None, low: int | None, high: int | None
    ) -> tuple[str, list[Any]]:
        conditions: list[str] = []
        params: list[Any] = []
        mark = self.dialect.placeholder
        if window is not None:
            column = self.dialect.identifier(self.source.column(window.field), "columns")
            conditions += [f"{column} >= {mark}", f"{column} < {mark}"]
            params += [window.start.isoformat(), window.end.isoformat()]
        if key is not None and low is not None and high is not None:
            column = self.dialect.identifier(self.source.column(key), "columns")
            conditions += [f"{column} >= {mark}", f"{column} < {mark}"]
            params += [low, high]
        return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), params

    def _execute(self, cursor: Any, sql: str, params: list[Any]) -> None:
        self.requests += 1
        try:
            cursor.execute(sql, params)
        except Exception as error:
            raise WarehouseError(
                f"{self.name}: reading {self.source.describe()} failed ({self._said(error)}); "
                "check the table, its columns and the query"
            ) from None

    def rows(
        self,
        fields: Sequence[str],
        *,
        window: Window | None,
        key: str,
        ordered: bool,
        low: int | None = None,
        high: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The rows in the window (and ``low <= key < high``) as ``{field: value}``, in key order when ``ordered``."""
        columns = ", ".join(self.dialect.identifier(self.source.column(f), "columns") for f in fields)
        where, params = self._where(window, key, low, high)
        order = f" ORDER BY {self.dialect.identifier(self.source.column(key), 'columns')}" if ordered else ""
        cursor = self._open_cursor(self.connection())
        try:
            sql = f"SELECT {columns} FROM {self._from}{where}{order}"  # noqa: S608 (identifiers quoted, values bound)
            self._execute(cursor, sql, params)
            while batch := self._fetch(cursor):
                for values in batch:
                    yield dict(zip(fields, values, strict=True))
        finally:
            cursor.close()

    def _fetch(self, cursor: Any) -> list[Sequence[Any]]:
        try:
            return list(cursor.fetchmany(FETCH_ROWS))
        except Exception as error:
            raise WarehouseUnavailableError(
                f"{self.name}: reading {self.source.describe()} stopped ({self._said(error)})"
            ) from None

    def key_span(self, *, window: Window | None, key: str) -> tuple[Any, Any] | None:
        """The lowest and highest key of the rows in the window (``None``: no rows)."""
        column = self.dialect.identifier(self.source.column(key), "columns")
        where, params = self._where(window, None, None, None)
        cursor = self.connection().cursor()
        try:
            self._execute(cursor, f"SELECT MIN({column}), MAX({column}) FROM {self._from}{where}", params)  # noqa: S608
            low, high = self._fetch(cursor)[0]
        finally:
            cursor.close()
        return None if low is None or high is None else (low, high)

    def count(self, *, window: Window | None, key: str, low: int, high: int) -> int:
        """``COUNT(*)`` of the rows in the window with ``low <= key < high``."""
        where, params = self._where(window, key, low, high)
        cursor = self.connection().cursor()
        try:
            self._execute(cursor, f"SELECT COUNT(*) FROM {self._from}{where}", params)  # noqa: S608 (as above)
            return int(self._fetch(cursor)[0][0])
        finally:
            cursor.close()
