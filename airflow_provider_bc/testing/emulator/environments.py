"""Environments with data of their own, as a sandbox copied from production has.

The default environment (production) is seeded at start; any other is made on first use as a copy of
production's seeded data (same companies and ids, none of production's changes since), and each
diverges from then on. Each keeps its changes in a journal of its own for a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .persistence import Deleted, EntryJournal
from .store import Store


@dataclass(frozen=True)
class Environment:
    """One environment: its name, its data and the journal keeping its changes."""

    name: str
    store: Store
    journal: EntryJournal


class Environments:
    """The environments by name, the first the default one; each one's data made on first use."""

    def __init__(self, names: tuple[str, ...], seeded: Store, journal: Callable[[str], EntryJournal]) -> None:
        """``seeded``: the default environment's data as seeded; ``journal``: an environment's journal."""
        self.names = names
        self.default = names[0]
        self._journal = journal
        self._made = {self.default: self._restored(self.default, seeded)}

    def get(self, name: str) -> Environment:
        """The environment called ``name`` (LookupError if there is none)."""
        if name not in self.names:
            raise LookupError(f"no environment {name!r} (known: {', '.join(self.names)})")
        if name not in self._made:
            self._made[name] = self._restored(name, self._made[self.default].store.seeded_copy())
        return self._made[name]

    def _restored(self, name: str, store: Store) -> Environment:
        """``store`` with the changes the environment's journal kept from before a restart."""
        journal = self._journal(name)
        for company_id, change in journal.replay():
            if isinstance(change, int):
                store.advance_entry_numbers(company_id, change)
            elif isinstance(change, Deleted):
                store.delete_entry(company_id, change.entry_id)
            else:
                store.restore_entry(company_id, change)
        return Environment(name, store, journal)
