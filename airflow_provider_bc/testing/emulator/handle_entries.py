"""The handle's calls that change the item ledger of a running emulator: entries inserted, modified,
deleted and cost-adjusted, and each company's entry-number sequence (entries reserved in a posting not yet
committed, committed, rolled back; numbers skipped)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .handle_control import ControlClient


class EntryCalls(ControlClient):
    """Item ledger entries of a company (default: CRONUS USA, Inc.) in an environment (default:
    :attr:`environment`), as postings in Business Central change them."""

    def _entries(self, name: str, company_id: str | None, environment: str | None, **body: Any) -> dict[str, Any]:
        """The control call ``name`` on the entries of a company in an environment (None: the defaults)."""
        return self._call(name, company_id=company_id, environment=environment, **body)

    def insert_entry(
        self, company_id: str | None = None, *, environment: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Append an item ledger entry (the next number of the company's sequence, visible at once) to a
        company (default: CRONUS USA, Inc.) of an environment (default: :attr:`environment`).

        Decimals may be given as :class:`~decimal.Decimal` (kept exactly). Inserted entries survive
        :meth:`restart` (kept in the state directory)."""
        return self._entries("entries", company_id, environment, fields=fields)

    def modify_entry(
        self, company_id: str | None, entry_id: str, *, environment: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Change stored fields of an item ledger entry (e.g. ``description="x"``, ``quantity=3``) as a
        modification in BC does: ``lastModifiedDateTime`` becomes now (SystemModifiedAt) and the ETag
        changes. ``company_id`` None: CRONUS USA, Inc. Returns the entry as the API now sends it;
        survives :meth:`restart`."""
        return self._entries("entries/modify", company_id, environment, entry_id=entry_id, fields=fields)

    def delete_entry(self, company_id: str | None, entry_id: str, *, environment: str | None = None) -> dict[str, Any]:
        """Delete an item ledger entry, as a user deleting a record in BC does: GET by id answers 404,
        collections and ``$count`` leave it out, and its entry number stays used (a later insert never
        reuses it). ``company_id`` None: CRONUS USA, Inc. Returns the entry as it was; survives :meth:`restart`."""
        return self._entries("entries/delete", company_id, environment, entry_id=entry_id)

    def post_cost_adjustment(
        self,
        company_id: str | None,
        entry_id: str,
        amount: Decimal | int | float | str,
        *,
        environment: str | None = None,
    ) -> dict[str, Any]:
        """Add ``amount`` to an entry's ``costAmountActual``, as a cost adjustment posting a value entry:
        the FlowField changes, ``lastModifiedDateTime`` and the ETag do not (an incremental read on
        lastModifiedDateTime misses it). Returns the entry as the API now sends it; survives
        :meth:`restart`."""
        return self._entries("entries/cost_adjustment", company_id, environment, entry_id=entry_id, amount=amount)

    def reserve_entries(
        self,
        count: int = 1,
        fields: dict[str, Any] | None = None,
        company_id: str | None = None,
        environment: str | None = None,
    ) -> list[dict[str, Any]]:
        """Insert ``count`` entries in a posting not yet committed: each takes the next entry number and
        now as ``lastModifiedDateTime`` (the insert's time, as BC's SystemModifiedAt), and no API read
        sees it until :meth:`commit_entries`. Returns them as the API will send them. A restart rolls
        them back (:meth:`rollback_entries`)."""
        reserved = self._entries("entries/reserve", company_id, environment, count=count, fields=fields or {})
        return list(reserved["entries"])

    def commit_entries(
        self, entry_ids: list[str], company_id: str | None = None, environment: str | None = None
    ) -> list[dict[str, Any]]:
        """Make reserved entries visible exactly as reserved (number, ``lastModifiedDateTime``, ETag),
        e.g. after entries with higher numbers; returns them. They survive :meth:`restart`."""
        return list(self._entries("entries/commit", company_id, environment, entry_ids=entry_ids)["entries"])

    def rollback_entries(
        self, entry_ids: list[str], company_id: str | None = None, environment: str | None = None
    ) -> list[dict[str, Any]]:
        """Drop reserved entries, their numbers staying used (gaps); returns them as they were reserved."""
        return list(self._entries("entries/rollback", company_id, environment, entry_ids=entry_ids)["entries"])

    def skip_entry_numbers(self, count: int, company_id: str | None = None, environment: str | None = None) -> range:
        """Use up the next ``count`` entry numbers without an entry (gaps, as a rolled-back posting
        leaves); returns them."""
        first, last = self._entries("entries/skip", company_id, environment, count=count)["entry_numbers"]
        return range(first, last + 1)
