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
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from . import seed
from .schema import (
    COMPANIES,
    ITEM_LEDGER_ENTRIES,
    EntitySet,
    Kind,
    coerce,
    datetime_key,
    decimal_text,
    format_datetime,
    json_object_sql,
    parse_datetime,
)

_SQL_TYPES = {
    Kind.GUID: "TEXT",
    Kind.STRING: "TEXT",
    Kind.ENUM: "TEXT",
    Kind.INTEGER: "INTEGER",
    Kind.DECIMAL: "TEXT",  # the exact number text BC prints (200, not 200.0; 3.1, not 3.10)
    Kind.DATE: "TEXT",
    Kind.DATETIME: "TEXT",
}
#: fields a modification cannot set besides the FlowFields: the keys, and the row version it sets itself
_UNMODIFIABLE = frozenset({"id", "entryNumber", "lastModifiedDateTime"})
_ONE_MILLISECOND = timedelta(milliseconds=1)


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
    """The emulator's data: seeded companies and item ledger entries in one SQLite connection.

    Entities are kept as BC sends them; the JSON text of each is built once, when it is stored.
    """

    def __init__(self, seed_value: int, entries: int) -> None:
        self.connection = sqlite3.connect(":memory:")
        self.connection.create_function("py_lower", 1, _lower, deterministic=True)
        self.connection.create_function("py_upper", 1, _upper, deterministic=True)
        self.connection.execute("PRAGMA journal_mode = OFF")  # seeding needs no rollback
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
        self.connection.execute(  # BC keys SystemModifiedAt too: incremental reads filter on it
            'CREATE INDEX last_modified ON item_ledger_entries (company_id, "lastModifiedDateTime__key")'
        )
        self.connection.commit()
        self.connection.execute("PRAGMA journal_mode = MEMORY")  # a change that fails is rolled back

    def _insert(self, entity_set: EntitySet, company_id: str | None, entities: Iterable[dict[str, Any]]) -> None:
        """Insert entities (their ``@odata.etag`` kept if they have one), then let SQLite build the JSON
        text of the new rows in bulk."""
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
        (before,) = self.connection.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {entity_set.table}").fetchone()  # noqa: S608
        self.connection.executemany(
            f"INSERT INTO {entity_set.table} ({', '.join(columns)}, etag) VALUES ({marks})",  # noqa: S608
            rows,
        )
        self.connection.execute(
            f"UPDATE {entity_set.table} SET json = {json_object_sql(fields)} WHERE rowid > ?",  # noqa: S608
            (before,),
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

    def _entry(self, company_id: str, entry_id: str) -> bytes | None:
        """The stored JSON text of an item ledger entry."""
        row = self.connection.execute(
            'SELECT json FROM item_ledger_entries WHERE company_id = ? AND "id" = ?', (company_id, entry_id)
        ).fetchone()
        return bytes(row[0]) if row else None

    def _existing(self, company_id: str, entry_id: str) -> dict[str, Any]:
        """An item ledger entry as BC sends it, decimals as :class:`~decimal.Decimal`; LookupError if none."""
        payload = self._entry(company_id, str(entry_id).lower())
        if payload is None:
            raise LookupError(f"no item ledger entry with id {entry_id} in company {company_id}")
        entity: dict[str, Any] = json.loads(payload, parse_float=Decimal)
        return entity

    def restore_entry(self, company_id: str, entity: dict[str, Any]) -> bytes:
        """Store ``entity`` as given (``@odata.etag`` too), replacing the entry with its id; its JSON text."""
        with self.connection:  # all or nothing
            self.connection.execute(
                'DELETE FROM item_ledger_entries WHERE company_id = ? AND "id" = ?', (company_id, entity["id"])
            )
            self._insert(ITEM_LEDGER_ENTRIES, company_id, [entity])
        payload = self._entry(company_id, entity["id"])
        assert payload is not None
        return payload

    def insert_entry(self, company_id: str, fields: dict[str, Any]) -> bytes:
        """Append an entry (the next entryNumber): generated values, overridden by ``fields``; its JSON text."""
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
        if self._entry(company_id, entity["id"]) is not None:
            raise ValueError(f"an entry with id {entity['id']} exists already")
        return self.restore_entry(company_id, entity)

    def modify_entry(self, company_id: str, entry_id: str, fields: dict[str, Any]) -> bytes:
        """Change stored fields of an entry, as a modification in BC does: ``lastModifiedDateTime``
        becomes now (at least a millisecond later than it was) and the ETag changes; its JSON text."""
        settable = {f.name: f for f in ITEM_LEDGER_ENTRIES.fields if f.name not in _UNMODIFIABLE and not f.flowfield}
        if unknown := sorted(set(fields) - set(settable)):
            raise ValueError(f"fields that a modification cannot set: {unknown} (settable: {sorted(settable)})")
        entity = self._existing(company_id, entry_id)
        modified = max(datetime.now(timezone.utc), parse_datetime(entity["lastModifiedDateTime"]) + _ONE_MILLISECOND)
        del entity["@odata.etag"]  # a new row version, a new ETag
        entity |= {name: coerce(settable[name], value) for name, value in fields.items()}
        entity["lastModifiedDateTime"] = format_datetime(modified)
        return self.restore_entry(company_id, entity)

    def post_cost_adjustment(self, company_id: str, entry_id: str, amount: Decimal) -> bytes:
        """Add ``amount`` to an entry's ``costAmountActual``, a FlowField: its row (``lastModifiedDateTime``,
        ETag) stays as it was, as when BC posts a value entry; its JSON text."""
        entity = self._existing(company_id, entry_id)
        entity["costAmountActual"] = Decimal(entity["costAmountActual"]) + amount
        return self.restore_entry(company_id, entity)
