"""Each company's entry-number sequence, as BC numbers item ledger entries: a number is taken when an
entry is inserted, also by an entry reserved (inserted in a posting not yet committed, which no read
sees) and then rolled back, so numbers can be skipped and entries become visible out of order. Here:
the sequences and the reserved entries, committed or rolled back."""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timezone
from typing import Any

from . import seed
from .schema import ITEM_LEDGER_ENTRIES, MILLISECOND, coerce, format_datetime
from .tables import ENTRIES, RESERVED, insert_rows, row_json, row_jsons

#: a company's sequence continues at a number, unless it is further already
ADVANCE = "UPDATE entry_sequences SET next = MAX(next, ?) WHERE company_id = ?"


class EntrySequences:
    """The entry-number sequences of the companies in ``connection``, and their reserved entries."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self._inserted_at = datetime.min.replace(tzinfo=timezone.utc)  # of the last insert (or reservation)

    def _start_sequence(self, company_id: str, seeded: int) -> None:
        """The company's sequence, its first ``seeded`` numbers those of the seeded entries."""
        self.connection.execute("INSERT INTO entry_sequences VALUES (?, ?, ?)", (company_id, seeded, seeded + 1))

    def next_entry_number(self, company_id: str) -> int:
        """The number the company's sequence hands out next."""
        (number,) = self.connection.execute(
            "SELECT next FROM entry_sequences WHERE company_id = ?", (company_id,)
        ).fetchone()
        return int(number)

    def advance_entry_numbers(self, company_id: str, next_number: int) -> None:
        """Let the company's sequence hand out ``next_number`` next, unless it is further already."""
        with self.connection:
            self.connection.execute(ADVANCE, (next_number, company_id))

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
        if "id" in values and any(row_json(self.connection, t, company_id, values["id"]) for t in (ENTRIES, RESERVED)):
            raise ValueError(f"an entry with id {values['id']} exists already")
        # now, and at least a millisecond after the insert before: an entry inserted later is never as old
        self._inserted_at = max(datetime.now(timezone.utc), self._inserted_at + MILLISECOND)
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
            insert_rows(self.connection, ITEM_LEDGER_ENTRIES, company_id, entities, RESERVED)
        return [entity["id"] for entity in entities]

    def reserve_entries(self, company_id: str, count: int, fields: dict[str, Any]) -> list[bytes]:
        """Insert ``count`` entries in a transaction left open: each takes the next entry number and now
        as ``lastModifiedDateTime`` (generated values, overridden by ``fields``), and no read sees it
        until :meth:`commit_entries`; their JSON texts, as reads will send them."""
        return row_jsons(self.connection, RESERVED, company_id, self._reserve(company_id, count, fields))

    def _reserved(self, company_id: str, entry_ids: Iterable[str]) -> list[str]:
        """``entry_ids`` (lower-case), each that of a reserved entry: else ValueError or LookupError."""
        ids = [entry_id.lower() for entry_id in entry_ids]
        if len(set(ids)) < len(ids):
            raise ValueError(f"entry_ids names an entry twice: {ids}")
        for entry_id in ids:
            if row_json(self.connection, RESERVED, company_id, entry_id) is not None:
                continue
            if row_json(self.connection, ENTRIES, company_id, entry_id) is not None:
                raise ValueError(f"entry_ids: entry {entry_id} is not reserved but committed (visible) already")
            raise LookupError(f"entry_ids: no reserved item ledger entry with id {entry_id} in company {company_id}")
        return ids

    def _unreserve(self, company_id: str, entry_ids: list[str]) -> None:
        marks = ", ".join("?" * len(entry_ids))
        self.connection.execute(
            f'DELETE FROM {RESERVED} WHERE company_id = ? AND "id" IN ({marks})',  # noqa: S608
            (company_id, *entry_ids),
        )

    def commit_entries(self, company_id: str, entry_ids: Iterable[str]) -> list[bytes]:
        """Make reserved entries visible exactly as they were reserved (number, ``lastModifiedDateTime``,
        ETag); their JSON texts, in the order of ``entry_ids``."""
        ids = self._reserved(company_id, entry_ids)
        marks = ", ".join("?" * len(ids))
        with self.connection:
            moved = f'SELECT * FROM {RESERVED} WHERE company_id = ? AND "id" IN ({marks})'  # noqa: S608
            self.connection.execute(f"INSERT INTO {ENTRIES} {moved}", (company_id, *ids))
            self._unreserve(company_id, ids)
        return row_jsons(self.connection, ENTRIES, company_id, ids)

    def rollback_entries(self, company_id: str, entry_ids: Iterable[str]) -> list[bytes]:
        """Drop reserved entries, their numbers staying used (gaps); their JSON texts as they were reserved."""
        ids = self._reserved(company_id, entry_ids)
        texts = row_jsons(self.connection, RESERVED, company_id, ids)
        with self.connection:
            self._unreserve(company_id, ids)
        return texts
