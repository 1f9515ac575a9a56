"""SQLite storage: one table per entity set, each row keeping its pre-serialized JSON entity."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from . import seed
from .schema import (
    COMPANIES,
    ITEM_LEDGER_ENTRIES,
    EntitySet,
    Kind,
    coerce,
    datetime_key,
    format_datetime,
    json_object_sql,
)

_SQL_TYPES = {
    Kind.GUID: "TEXT",
    Kind.STRING: "TEXT",
    Kind.ENUM: "TEXT",
    Kind.INTEGER: "INTEGER",
    Kind.DECIMAL: "NUMERIC",  # whole numbers come back as int, like BC prints them (200, not 200.0)
    Kind.DATE: "TEXT",
    Kind.DATETIME: "TEXT",
}


@dataclass(frozen=True)
class Company:
    """The identity of a stored company."""

    id: str
    name: str


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _upper(value: str | None) -> str | None:
    return None if value is None else value.upper()


def etag_for(entity_id: str, version: str) -> str:
    """A BC-looking weak ETag, deterministic per entity id and row version."""
    digest = base64.b64encode(hashlib.sha256(f"{entity_id}|{version}".encode()).digest()).decode()
    return 'W/"' + base64.b64encode(f"'44;{digest}1;00;'".encode()).decode() + '"'


class Store:
    """The emulator's data: seeded companies and item ledger entries in one SQLite connection."""

    def __init__(self, seed_value: int, entries: int) -> None:
        self.connection = sqlite3.connect(":memory:")
        self.connection.create_function("py_lower", 1, _lower, deterministic=True)
        self.connection.create_function("py_upper", 1, _upper, deterministic=True)
        self.connection.create_function("datetime_key", 1, datetime_key, deterministic=True)
        self.connection.create_function("etag_for", 2, etag_for, deterministic=True)
        for entity_set, scope in ((COMPANIES, "ordinal INTEGER PRIMARY KEY"), (ITEM_LEDGER_ENTRIES, "company_id TEXT")):
            columns = ", ".join(
                f"{f.column} {_SQL_TYPES[f.kind]}" + (f", {f.sort_column} TEXT" if f.kind is Kind.DATETIME else "")
                for f in entity_set.fields
            )
            self.connection.execute(f"CREATE TABLE {entity_set.table} ({scope}, {columns}, etag TEXT, json BLOB)")
        self._insert(COMPANIES, None, seed.company_entities())
        for index, company in enumerate(seed.COMPANIES):
            count = entries if index == 0 else seed.OTHER_COMPANY_ENTRIES
            self._insert(ITEM_LEDGER_ENTRIES, company.id, seed.item_ledger_entries(seed_value, index, count))
        self.connection.execute('CREATE UNIQUE INDEX entry_number ON item_ledger_entries (company_id, "entryNumber")')
        self.connection.execute('CREATE UNIQUE INDEX entry_id ON item_ledger_entries (company_id, "id")')

    def _insert(self, entity_set: EntitySet, company_id: str | None, entities: Iterable[dict[str, Any]]) -> None:
        """Insert raw values, then let SQLite derive sort keys, ETags and the JSON text in bulk."""
        names = [f.name for f in entity_set.fields]
        scope = {"company_id": company_id} if company_id else {}
        columns = ", ".join([*scope, *(f'"{n}"' for n in names), "etag"])
        marks = ", ".join("?" * (len(scope) + len(names) + 1))
        # SQL text below holds only schema identifiers; values travel as parameters.
        self.connection.executemany(
            f"INSERT INTO {entity_set.table} ({columns}) VALUES ({marks})",  # noqa: S608
            ([*scope.values(), *(e[n] for n in names), e.get("@odata.etag")] for e in entities),
        )
        # The row version is the last datetime field: systemModifiedAt / lastModifiedDateTime.
        version = next(f.column for f in reversed(entity_set.fields) if f.kind is Kind.DATETIME)
        keys = "".join(
            f"{f.sort_column} = datetime_key({f.column}), " for f in entity_set.fields if f.kind is Kind.DATETIME
        )
        self.connection.execute(
            f'UPDATE {entity_set.table} SET {keys}etag = COALESCE(etag, etag_for("id", {version})) '  # noqa: S608
            "WHERE json IS NULL"
        )
        self.connection.execute(
            f"UPDATE {entity_set.table} SET json = {json_object_sql(names)} WHERE json IS NULL"  # noqa: S608
        )

    def company(self, key: str) -> Company | None:
        """The company whose id (lower-case GUID) or exact name is ``key``."""
        row = self.connection.execute(
            "SELECT id, name FROM companies WHERE id = ? OR name = ? ORDER BY ordinal LIMIT 1", (key, key)
        ).fetchone()
        return Company(*row) if row else None

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one read query (built by the OData translator) and return all its rows."""
        return self.connection.execute(sql, params).fetchall()

    def insert_entry(self, company_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Append an entry: generated values, overridden by ``fields``; returns the stored entity."""
        settable = {f.name: f for f in ITEM_LEDGER_ENTRIES.fields if f.name != "entryNumber"}
        if unknown := sorted(set(fields) - set(settable)):
            raise ValueError(f"fields that cannot be set: {unknown}")
        (last,) = self.connection.execute(
            'SELECT COALESCE(MAX("entryNumber"), 0) FROM item_ledger_entries WHERE company_id = ?', (company_id,)
        ).fetchone()
        entity = {
            **seed.new_entry(random.Random(f"{company_id}:{last + 1}"), last + 1, date.today()),  # noqa: S311
            "id": str(uuid.uuid4()),
            "lastModifiedDateTime": format_datetime(datetime.now(timezone.utc)),
            **{name: coerce(settable[name], value) for name, value in fields.items()},
        }
        try:
            self._insert(ITEM_LEDGER_ENTRIES, company_id, [entity])
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"an entry with id {entity['id']} exists already") from exc
        (payload,) = self.connection.execute(
            'SELECT json FROM item_ledger_entries WHERE company_id = ? AND "entryNumber" = ?', (company_id, last + 1)
        ).fetchone()
        result: dict[str, Any] = json.loads(payload)
        return result
