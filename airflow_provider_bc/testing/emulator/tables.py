"""The SQLite tables of one environment's data, each row keeping its entity's pre-serialized JSON: how
they are made and indexed, how entities go in (their JSON text built by SQLite, in bulk) and how a
row's JSON text comes back out."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterable
from typing import Any

from .schema import COMPANIES, ITEM_LEDGER_ENTRIES, EntitySet, Kind, datetime_key, decimal_text, json_object_sql

_SQL_TYPES = {
    Kind.GUID: "TEXT",
    Kind.STRING: "TEXT",
    Kind.ENUM: "TEXT",
    Kind.INTEGER: "INTEGER",
    Kind.DECIMAL: "TEXT",  # the exact number text BC prints (200, not 200.0; 3.1, not 3.10)
    Kind.DATE: "TEXT",
    Kind.DATETIME: "TEXT",
}
#: the tables of item ledger entries: those committed (what reads see), those reserved, and the seeded
#: rows of entries changed since, as they were seeded (for :meth:`.store.Store.seeded_copy`)
ENTRIES, RESERVED, SEEDED = ITEM_LEDGER_ENTRIES.table, "reserved_entries", "seeded_entries"


def etag_for(entity_id: str, version: str) -> str:
    """A BC-looking weak ETag, deterministic per entity id and row version."""
    digest = base64.b64encode(hashlib.sha256(f"{entity_id}|{version}".encode()).digest()).decode()
    return 'W/"' + base64.b64encode(f"'44;{digest}1;00;'".encode()).decode() + '"'


def create_tables(connection: sqlite3.Connection) -> None:
    """The tables of the companies, the item ledger entries (committed, reserved, as seeded) and the
    companies' entry-number sequences (:mod:`.sequences`)."""
    tables = [(COMPANIES, COMPANIES.table, "ordinal INTEGER PRIMARY KEY")]
    tables += [(ITEM_LEDGER_ENTRIES, table, "company_id TEXT") for table in (ENTRIES, RESERVED, SEEDED)]
    for entity_set, table, scope in tables:
        columns = ", ".join(
            f"{f.column} {_SQL_TYPES[f.kind]}" + (f", {f.sort_column} TEXT" if f.kind is Kind.DATETIME else "")
            for f in entity_set.fields
        )
        connection.execute(f"CREATE TABLE {table} ({scope}, {columns}, etag TEXT, json BLOB)")
    connection.execute("CREATE TABLE entry_sequences (company_id TEXT PRIMARY KEY, seeded INTEGER, next INTEGER)")


def create_indexes(connection: sqlite3.Connection) -> None:
    """The entries' unique keys (a company's entry numbers and ids) and the index on SystemModifiedAt:
    made once the seeded rows are in."""
    connection.execute(f'CREATE UNIQUE INDEX entry_number ON {ENTRIES} (company_id, "entryNumber")')
    for table in (ENTRIES, RESERVED, SEEDED):
        connection.execute(f'CREATE UNIQUE INDEX {table}_id ON {table} (company_id, "id")')
    connection.execute(  # BC keys SystemModifiedAt too: incremental reads filter on it
        f'CREATE INDEX last_modified ON {ENTRIES} (company_id, "lastModifiedDateTime__key")'
    )


def insert_rows(
    connection: sqlite3.Connection,
    entity_set: EntitySet,
    company_id: str | None,
    entities: Iterable[dict[str, Any]],
    table: str = "",
) -> None:
    """Insert entities into ``table`` (default: the entity set's), their ``@odata.etag`` kept if they
    have one, then let SQLite build the JSON text of the new rows in bulk."""
    table = table or entity_set.table
    fields, scope = entity_set.fields, [company_id] if company_id else []
    datetimes = [f for f in fields if f.kind is Kind.DATETIME]
    version = datetimes[-1].name  # the row version: systemModifiedAt / lastModifiedDateTime
    columns = ["company_id"] * len(scope) + [f.column for f in fields] + [f.sort_column for f in datetimes]
    rows = (
        [
            *scope,
            *(decimal_text(e[f.name]) if f.kind is Kind.DECIMAL else e[f.name] for f in fields),
            *(datetime_key(e[f.name]) for f in datetimes),
            e.get("@odata.etag") or etag_for(e["id"], e[version]),
        ]
        for e in entities
    )
    marks = ", ".join("?" * (len(columns) + 1))
    # SQL text below holds only schema identifiers; values travel as parameters.
    (before,) = connection.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()  # noqa: S608
    connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}, etag) VALUES ({marks})",  # noqa: S608
        rows,
    )
    connection.execute(
        f"UPDATE {table} SET json = {json_object_sql(fields)} WHERE rowid > ?",  # noqa: S608
        (before,),
    )


def row_json(connection: sqlite3.Connection, table: str, company_id: str, entry_id: str) -> bytes | None:
    """The stored JSON text of an item ledger entry in ``table``."""
    row = connection.execute(
        f'SELECT json FROM {table} WHERE company_id = ? AND "id" = ?',  # noqa: S608
        (company_id, entry_id),
    ).fetchone()
    return bytes(row[0]) if row else None


def row_jsons(connection: sqlite3.Connection, table: str, company_id: str, entry_ids: Iterable[str]) -> list[bytes]:
    """The JSON texts of entries in ``table`` (ids of none there left out)."""
    texts = (row_json(connection, table, company_id, entry_id) for entry_id in entry_ids)
    return [text for text in texts if text is not None]
