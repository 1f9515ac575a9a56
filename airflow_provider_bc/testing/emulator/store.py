"""SQLite storage: a table per entity set (and reserved entries), each row keeping its pre-serialized JSON entity."""

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
#: the tables of item ledger entries: those committed (what reads see), those reserved, and the seeded
#: rows of entries changed since, as they were seeded (for :meth:`Store.seeded_copy`)
_ENTRIES, _RESERVED, _SEEDED = ITEM_LEDGER_ENTRIES.table, "reserved_entries", "seeded_entries"
_KEEP_SEEDED = (  # before a change: the row of a seeded entry as it was seeded, kept once
    "INSERT OR IGNORE INTO seeded_entries SELECT e.* FROM item_ledger_entries e JOIN entry_sequences s"
    ' USING (company_id) WHERE e.company_id = ? AND e."id" = ? AND e."entryNumber" <= s.seeded'
)
_ADVANCE = "UPDATE entry_sequences SET next = MAX(next, ?) WHERE company_id = ?"
_BACK_TO_SEEDED = (
    "DELETE FROM item_ledger_entries WHERE rowid IN (SELECT e.rowid FROM entry_sequences s"
    ' JOIN item_ledger_entries e ON e.company_id = s.company_id AND e."entryNumber" > s.seeded)',
    'DELETE FROM item_ledger_entries WHERE (company_id, "id") IN (SELECT company_id, "id" FROM seeded_entries)',
    "INSERT INTO item_ledger_entries SELECT * FROM seeded_entries",
    "DELETE FROM seeded_entries",
    "DELETE FROM reserved_entries",
    "UPDATE entry_sequences SET next = seeded + 1",
)


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
    """The data of one environment: seeded companies and item ledger entries in one SQLite connection.

    Entities are kept as BC sends them; the JSON text of each is built once, when it is stored. Each
    company numbers its entries from a sequence, as BC does: a number is taken when an entry is
    inserted, also by an entry reserved (inserted in a transaction not yet committed, which no read
    sees) and then rolled back, so numbers can be skipped and entries become visible out of order.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        """A store on ``connection``, whose tables :meth:`seeded` made."""
        self.connection = connection
        self._inserted_at = datetime.min.replace(tzinfo=timezone.utc)  # of the last insert (or reservation)
        connection.create_function("py_lower", 1, _lower, deterministic=True)
        connection.create_function("py_upper", 1, _upper, deterministic=True)

    @classmethod
    def seeded(cls, seed_value: int, entries: int) -> Store:
        """A new store with the data of ``seed_value``: ``entries`` entries in the default company."""
        store = cls(sqlite3.connect(":memory:"))
        connection = store.connection
        connection.execute("PRAGMA journal_mode = OFF")  # seeding needs no rollback
        tables = [(COMPANIES, COMPANIES.table, "ordinal INTEGER PRIMARY KEY")]
        tables += [(ITEM_LEDGER_ENTRIES, table, "company_id TEXT") for table in (_ENTRIES, _RESERVED, _SEEDED)]
        for entity_set, table, scope in tables:
            columns = ", ".join(
                f"{f.column} {_SQL_TYPES[f.kind]}" + (f", {f.sort_column} TEXT" if f.kind is Kind.DATETIME else "")
                for f in entity_set.fields
            )
            connection.execute(f"CREATE TABLE {table} ({scope}, {columns}, etag TEXT, json BLOB)")
        connection.execute("CREATE TABLE entry_sequences (company_id TEXT PRIMARY KEY, seeded INTEGER, next INTEGER)")
        store._insert(COMPANIES, None, seed.company_entities())
        for index, company in enumerate(seed.COMPANIES):
            count = entries if index == 0 else seed.OTHER_COMPANY_ENTRIES
            store._insert(ITEM_LEDGER_ENTRIES, company.id, seed.item_ledger_entries(seed_value, index, count))
            connection.execute("INSERT INTO entry_sequences VALUES (?, ?, ?)", (company.id, count, count + 1))
        connection.execute(f'CREATE UNIQUE INDEX entry_number ON {_ENTRIES} (company_id, "entryNumber")')
        for table in (_ENTRIES, _RESERVED, _SEEDED):
            connection.execute(f'CREATE UNIQUE INDEX {table}_id ON {table} (company_id, "id")')
        connection.execute(  # BC keys SystemModifiedAt too: incremental reads filter on it
            f'CREATE INDEX last_modified ON {_ENTRIES} (company_id, "lastModifiedDateTime__key")'
        )
        connection.commit()
        connection.execute("PRAGMA journal_mode = MEMORY")  # a change that fails is rolled back
        return store

    def seeded_copy(self) -> Store:
        """A new store with this one's data as it was seeded: none of the entries inserted, reserved or
        changed here since (a copy of the database, the changes then undone)."""
        copy = Store(sqlite3.connect(":memory:"))
        self.connection.backup(copy.connection)
        with copy.connection:
            for statement in _BACK_TO_SEEDED:
                copy.connection.execute(statement)
        return copy

    def _insert(
        self, entity_set: EntitySet, company_id: str | None, entities: Iterable[dict[str, Any]], table: str = ""
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
        (before,) = self.connection.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()  # noqa: S608
        self.connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}, etag) VALUES ({marks})",  # noqa: S608
            rows,
        )
        self.connection.execute(
            f"UPDATE {table} SET json = {json_object_sql(fields)} WHERE rowid > ?",  # noqa: S608
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

    def _json(self, table: str, company_id: str, entry_id: str) -> bytes | None:
        """The stored JSON text of an item ledger entry in ``table``."""
        row = self.connection.execute(
            f'SELECT json FROM {table} WHERE company_id = ? AND "id" = ?',  # noqa: S608
            (company_id, entry_id),
        ).fetchone()
        return bytes(row[0]) if row else None

    def _texts(self, table: str, company_id: str, entry_ids: Iterable[str]) -> list[bytes]:
        """The JSON texts of entries in ``table`` (ids of none there left out)."""
        return [text for entry_id in entry_ids if (text := self._json(table, company_id, entry_id)) is not None]

    def _existing(self, company_id: str, entry_id: str) -> dict[str, Any]:
        """An item ledger entry as BC sends it, decimals as :class:`~decimal.Decimal`; LookupError if none."""
        payload = self._json(_ENTRIES, company_id, str(entry_id).lower())
        if payload is None:
            raise LookupError(f"no item ledger entry with id {entry_id} in company {company_id}")
        entity: dict[str, Any] = json.loads(payload, parse_float=Decimal)
        return entity

    def restore_entry(self, company_id: str, entity: dict[str, Any]) -> bytes:
        """Store ``entity`` as given (``@odata.etag`` too), replacing the entry with its id (a seeded
        one's row kept as it was seeded), the company's sequence continuing after its number; its JSON text."""
        key = (company_id, entity["id"])
        with self.connection:  # all or nothing
            self.connection.execute(_KEEP_SEEDED, key)
            self.connection.execute(f'DELETE FROM {_ENTRIES} WHERE company_id = ? AND "id" = ?', key)  # noqa: S608
            self._insert(ITEM_LEDGER_ENTRIES, company_id, [entity])
            self.connection.execute(_ADVANCE, (entity["entryNumber"] + 1, company_id))
        (payload,) = self._texts(_ENTRIES, company_id, [entity["id"]])
        return payload

    def next_entry_number(self, company_id: str) -> int:
        """The number the company's sequence hands out next."""
        (number,) = self.connection.execute(
            "SELECT next FROM entry_sequences WHERE company_id = ?", (company_id,)
        ).fetchone()
        return int(number)

    def advance_entry_numbers(self, company_id: str, next_number: int) -> None:
        """Let the company's sequence hand out ``next_number`` next, unless it is further already."""
        with self.connection:
            self.connection.execute(_ADVANCE, (next_number, company_id))

    def _take_entry_numbers(self, company_id: str, count: int) -> range:
        """The next ``count`` numbers of the company's sequence, used from now on (inside a transaction)."""
        first = self.next_entry_number(company_id)
        self.connection.execute("UPDATE entry_sequences SET next = ? WHERE company_id = ?", (first + count, company_id))
        return range(first, first + count)

    def skip_entry_numbers(self, company_id: str, count: int) -> range:
        """Use up the next ``count`` numbers without an entry (gaps); those numbers."""
        with self.connection:
            return self._take_entry_numbers(company_id, count)

    def _reserve(self, company_id: str, count: int, fields: dict[str, Any]) -> list[str]:
        """Store ``count`` new entries as reserved; their ids."""
        settable = {f.name: f for f in ITEM_LEDGER_ENTRIES.fields if f.name != "entryNumber"}
        if unknown := sorted(set(fields) - set(settable)):
            raise ValueError(f"fields that cannot be set: {unknown}")
        values = {name: coerce(settable[name], value) for name, value in fields.items()}
        if "id" in values and count > 1:
            raise ValueError("count must be 1 when the fields give an id")
        if "id" in values and any(self._json(t, company_id, values["id"]) for t in (_ENTRIES, _RESERVED)):
            raise ValueError(f"an entry with id {values['id']} exists already")
        # now, and at least a millisecond after the insert before: an entry inserted later is never as old
        self._inserted_at = max(datetime.now(timezone.utc), self._inserted_at + _ONE_MILLISECOND)
        inserted_at, today = format_datetime(self._inserted_at), date.today()
        with self.connection:
            entities = [
                {
                    **seed.new_entry(random.Random(f"{company_id}:{number}"), number, today),  # noqa: S311
                    "id": str(uuid.uuid4()),
                    "lastModifiedDateTime": inserted_at,  # SystemModifiedAt: set at the insert, not at the commit
                    **values,
                }
                for number in self._take_entry_numbers(company_id, count)
            ]
            self._insert(ITEM_LEDGER_ENTRIES, company_id, entities, _RESERVED)
        return [entity["id"] for entity in entities]

    def reserve_entries(self, company_id: str, count: int, fields: dict[str, Any]) -> list[bytes]:
        """Insert ``count`` entries in a transaction left open: each takes the next entry number and now
        as ``lastModifiedDateTime`` (generated values, overridden by ``fields``), and no read sees it
        until :meth:`commit_entries`; their JSON texts, as reads will send them."""
        return self._texts(_RESERVED, company_id, self._reserve(company_id, count, fields))

    def _reserved(self, company_id: str, entry_ids: Iterable[str]) -> list[str]:
        """``entry_ids`` (lower-case), each that of a reserved entry: else ValueError or LookupError."""
        ids = [entry_id.lower() for entry_id in entry_ids]
        if len(set(ids)) < len(ids):
            raise ValueError(f"entry_ids names an entry twice: {ids}")
        for entry_id in ids:
            if self._json(_RESERVED, company_id, entry_id) is not None:
                continue
            if self._json(_ENTRIES, company_id, entry_id) is not None:
                raise ValueError(f"entry_ids: entry {entry_id} is not reserved but committed (visible) already")
            raise LookupError(f"entry_ids: no reserved item ledger entry with id {entry_id} in company {company_id}")
        return ids

    def _unreserve(self, company_id: str, entry_ids: list[str]) -> None:
        marks = ", ".join("?" * len(entry_ids))
        self.connection.execute(
            f'DELETE FROM {_RESERVED} WHERE company_id = ? AND "id" IN ({marks})',  # noqa: S608
            (company_id, *entry_ids),
        )

    def commit_entries(self, company_id: str, entry_ids: Iterable[str]) -> list[bytes]:
        """Make reserved entries visible exactly as they were reserved (number, ``lastModifiedDateTime``,
        ETag); their JSON texts, in the order of ``entry_ids``."""
        ids = self._reserved(company_id, entry_ids)
        marks = ", ".join("?" * len(ids))
        with self.connection:
            moved = f'SELECT * FROM {_RESERVED} WHERE company_id = ? AND "id" IN ({marks})'  # noqa: S608
            self.connection.execute(f"INSERT INTO {_ENTRIES} {moved}", (company_id, *ids))
            self._unreserve(company_id, ids)
        return self._texts(_ENTRIES, company_id, ids)

    def rollback_entries(self, company_id: str, entry_ids: Iterable[str]) -> list[bytes]:
        """Drop reserved entries, their numbers staying used (gaps); their JSON texts as they were reserved."""
        ids = self._reserved(company_id, entry_ids)
        texts = self._texts(_RESERVED, company_id, ids)
        with self.connection:
            self._unreserve(company_id, ids)
        return texts

    def insert_entry(self, company_id: str, fields: dict[str, Any]) -> bytes:
        """Append an entry, visible at once (one reserved and committed); its JSON text."""
        (entity,) = self.commit_entries(company_id, self._reserve(company_id, 1, fields))
        return entity

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
