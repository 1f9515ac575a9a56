"""A warehouse table of item ledger entries, loaded from Business Central's rows, on SQLite or
PostgreSQL through their Airflow hooks; its columns are named otherwise than Business Central's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.testing.emulator import EmulatorHandle

#: Business Central field -> warehouse column
COLUMNS = {
    "entryNumber": "entry_no",
    "itemNumber": "item_no",
    "postingDate": "posting_date",
    "quantity": "qty",
    "costAmountActual": "cost_actual",
    "lastModifiedDateTime": "modified_at",
}
FIELDS = list(COLUMNS)


def create_table(hook: Any, table: str) -> None:
    """An empty table ``table`` (quoted as given: it may hold any character)."""
    quoted = '"' + table.replace('"', '""') + '"'
    timestamp = "TIMESTAMP WITH TIME ZONE" if hook.placeholder == "%s" else "TEXT"
    hook.run(
        f"CREATE TABLE {quoted} (entry_no BIGINT, item_no TEXT, posting_date DATE, qty NUMERIC(28, 10), "
        f"cost_actual NUMERIC(28, 10), modified_at {timestamp})"
    )


def load(hook: Any, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert Business Central ``rows`` (their :data:`FIELDS`) into ``table`` with bound parameters."""
    quoted = '"' + table.replace('"', '""') + '"'
    if hook.placeholder == "%s":  # with parameters, psycopg reads % as a marker
        quoted = quoted.replace("%", "%%")
    marks = ", ".join([hook.placeholder] * len(FIELDS))
    values = [tuple(str(row[f]) if f in ("quantity", "costAmountActual") else row[f] for f in FIELDS) for row in rows]
    connection = hook.get_conn()
    try:
        cursor = connection.cursor()
        cursor.executemany(f"INSERT INTO {quoted} ({', '.join(COLUMNS.values())}) VALUES ({marks})", values)
        connection.commit()
    finally:
        connection.close()


def business_central_rows(emulator: EmulatorHandle, filter: str, fields: Iterable[str]) -> list[dict[str, Any]]:
    """Business Central's entries matching ``filter`` (``id`` and ``fields``), in entry-number order,
    decimals exact, read through the hook as a task would."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
        client = BusinessCentralHook().new_client()
    try:
        return list(
            client.iter_entities(
                "itemLedgerEntries", filter=filter, select=["id", *fields], orderby="entryNumber", exact_numbers=True
            )
        )
    finally:
        client.close()
