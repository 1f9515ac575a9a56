"""SQLite storage of one environment's data: the seeded companies and item ledger entries, reads, and
the changes a test makes to entries (inserts, modifications, cost adjustments, deletions); each
company's entry numbers come from :mod:`.sequences`, the tables from :mod:`.tables`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from . import seed
from .schema import COMPANIES, ITEM_LEDGER_ENTRIES, MILLISECOND, coerce, format_datetime, parse_datetime
from .sequences import ADVANCE, EntrySequences
from .tables import ENTRIES, create_indexes, create_tables, insert_rows, row_json, row_jsons

#: fields a modification cannot set besides the FlowFields: the keys, and the row version it sets itself
_UNMODIFIABLE = frozenset({"id", "entryNumber", "lastModifiedDateTime"})
_KEEP_SEEDED = (  # before a change: the row of a seeded entry as it was seeded, kept once
    "INSERT OR IGNORE INTO seeded_entries SELECT e.* FROM item_ledger_entries e JOIN entry_sequences s"
    ' USING (company_id) WHERE e.company_id = ? AND e."id" = ? AND e."entryNumber" <= s.seeded'
)
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


class Store(EntrySequences):
    """The data of one environment: seeded companies and item ledger entries in one SQLite connection.

    Entities are kept as BC sends them; the JSON text of each is built once, when it is stored. Each
    company numbers its entries from a sequence, as BC does (:class:`~.sequences.EntrySequences`).
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        """A store on ``connection``, whose tables :meth:`seeded` made."""
        super().__init__(connection)
        connection.create_function("py_lower", 1, _lower, deterministic=True)
        connection.create_function("py_upper", 1, _upper, deterministic=True)

    @classmethod
    def seeded(cls, seed_value: int, entries: int) -> Store:
        """A new store with the data of ``seed_value``: ``entries`` entries in the default company."""
        store = cls(sqlite3.connect(":memory:"))
        connection = store.connection
        connection.execute("PRAGMA journal_mode = OFF")  # seeding needs no rollback
        create_tables(connection)
        insert_rows(connection, COMPANIES, None, seed.company_entities())
        for index, company in enumerate(seed.COMPANIES):
            count = entries if index == 0 else seed.OTHER_COMPANY_ENTRIES
            insert_rows(connection, ITEM_LEDGER_ENTRIES, company.id, seed.item_ledger_entries(seed_value, index, count))
            store._start_sequence(company.id, count)
        create_indexes(connection)
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

    def company(self, key: str) -> Company | None:
        """The company whose id (lower-case GUID) or exact name is ``key``."""
        row = self.connection.execute(
            "SELECT id, name FROM companies WHERE id = ? OR name = ? ORDER BY ordinal LIMIT 1", (key, key)
        ).fetchone()
        return Company(*row) if row else None

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one read query (built by the OData translator) and return all its rows."""
        return self.connection.execute(sql, params).fetchall()

    def _existing(self, company_id: str, entry_id: str) -> dict[str, Any]:
        """An item ledger entry as BC sends it, decimals as :class:`~decimal.Decimal`; LookupError if none."""
        payload = row_json(self.connection, ENTRIES, company_id, str(entry_id).lower())
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
            self.connection.execute(f'DELETE FROM {ENTRIES} WHERE company_id = ? AND "id" = ?', key)  # noqa: S608
            insert_rows(self.connection, ITEM_LEDGER_ENTRIES, company_id, [entity])
            self.connection.execute(ADVANCE, (entity["entryNumber"] + 1, company_id))
        (payload,) = row_jsons(self.connection, ENTRIES, company_id, [entity["id"]])
        return payload

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
        modified = max(datetime.now(timezone.utc), parse_datetime(entity["lastModifiedDateTime"]) + MILLISECOND)
        del entity["@odata.etag"]  # a new row version, a new ETag
        entity |= {name: coerce(settable[name], value) for name, value in fields.items()}
        entity["lastModifiedDateTime"] = format_datetime(modified)
        return self.restore_entry(company_id, entity)

    def delete_entry(self, company_id: str, entry_id: str) -> bytes:
        """Remove an entry, as a deletion in BC does: no read sees it, and its number stays used (the
        sequence never hands it out again; a seeded one's row kept as it was seeded); its JSON text as it was."""
        key = (company_id, str(entry_id).lower())
        payload = row_json(self.connection, ENTRIES, *key)
        if payload is None:
            raise LookupError(f"no item ledger entry with id {entry_id} in company {company_id}")
        with self.connection:  # all or nothing
            self.connection.execute(_KEEP_SEEDED, key)
            self.connection.execute(f'DELETE FROM {ENTRIES} WHERE company_id = ? AND "id" = ?', key)  # noqa: S608
        return payload

    def post_cost_adjustment(self, company_id: str, entry_id: str, amount: Decimal) -> bytes:
        """Add ``amount`` to an entry's ``costAmountActual``, a FlowField: its row (``lastModifiedDateTime``,
        ETag) stays as it was, as when BC posts a value entry; its JSON text."""
        entity = self._existing(company_id, entry_id)
        entity["costAmountActual"] = Decimal(entity["costAmountActual"]) + amount
        return self.restore_entry(company_id, entity)
