"""What a restart on the same state directory keeps.

* ``ca.pem`` and ``server.pem``: the CA bundle clients trust and the server's key and certificate,
  made once and reused while both exist.
* ``identity.json``: registered client applications (ids and secrets), the token-signing key and the
  revocations, so tokens issued before a restart stay valid (and revoked ones stay revoked).
* ``entries-{environment}.jsonl``: an environment's item ledger entries as inserted, modified,
  cost-adjusted or committed through the control API, the ids of those deleted, and how far each
  company's entry number sequence went, stored again (when the environment is first used) if the
  seed and entry count are those they were changed under. Reserved entries are not kept: a restart rolls them back.

Files holding secrets are written owner-only, and every file is replaced atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import trustme

CA_FILE, SERVER_FILE = "ca.pem", "server.pem"
IDENTITY_FILE = "identity.json"


def write_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` atomically with ``data`` (created with ``mode``)."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    partial.replace(path)


def certificates(state_dir: Path) -> tuple[Path, Path]:
    """(CA bundle, server PEM) for 127.0.0.1/localhost: those in ``state_dir``, else a new throw-away pair."""
    ca_bundle, server_pem = state_dir / CA_FILE, state_dir / SERVER_FILE
    if ca_bundle.is_file() and server_pem.is_file():
        return ca_bundle, server_pem
    authority = trustme.CA(organization_name="Business Central emulator")  # valid until the year 3000
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    write_file(ca_bundle, authority.cert_pem.bytes(), 0o644)
    write_file(server_pem, certificate.private_key_and_cert_chain_pem.bytes())
    return ca_bundle, server_pem


def load_identity(state_dir: Path) -> dict[str, Any] | None:
    """What :func:`save_identity` last wrote in ``state_dir``, if anything."""
    path = state_dir / IDENTITY_FILE
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def save_identity(state_dir: Path, data: dict[str, Any]) -> None:
    """Keep the directory's applications, signing key and revocations (``Directory.snapshot()``)."""
    write_file(state_dir / IDENTITY_FILE, json.dumps(data, indent=1).encode())


@dataclass(frozen=True)
class Deleted:
    """A change of the journal: the entry with ``entry_id`` was deleted."""

    entry_id: str


#: a change of the journal: an entry as it became, a company's next entry number, or a deletion
Change = dict[str, Any] | int | Deleted


def _change(record: dict[str, Any]) -> Change:
    """The change one journal line holds."""
    if "entity" in record:
        return dict(record["entity"])
    if "deleted" in record:
        return Deleted(str(record["deleted"]))
    return int(record["next"])


class EntryJournal:
    """An environment's journal of changes: a header line (seed, entry count), then a line per change,
    an entry as it became, a deleted entry's id, or a company's next entry number once numbers were
    taken without an entry."""

    def __init__(self, state_dir: Path, environment: str, seed: int, entries: int) -> None:
        self.path = state_dir / f"entries-{environment}.jsonl"
        self.header = {"seed": seed, "entries": entries}

    def replay(self) -> list[tuple[str, Change]]:
        """``(company id, change)`` of each change made under the same seed and entry count, in order
        (decimals as :class:`~decimal.Decimal`, exactly as they were). A journal of other data is discarded."""
        lines = self.path.read_bytes().splitlines() if self.path.is_file() else []
        if not lines or json.loads(lines[0]) != self.header:
            write_file(self.path, json.dumps(self.header).encode() + b"\n", 0o644)
            return []
        records = [json.loads(line, parse_float=Decimal) for line in lines[1:] if line.strip()]
        return [(str(record["company_id"]), _change(record)) for record in records]

    def record(self, company_id: str, entity: bytes) -> None:
        """Append one changed entry: its JSON text as the API sends it."""
        self._append(b'{"company_id":' + json.dumps(company_id).encode() + b',"entity":' + entity + b"}\n")

    def record_deletion(self, company_id: str, entry_id: str) -> None:
        """Append the deletion of an entry."""
        self._append(json.dumps({"company_id": company_id, "deleted": entry_id}).encode() + b"\n")

    def record_next_entry_number(self, company_id: str, number: int) -> None:
        """Append the number the company's sequence hands out next."""
        self._append(json.dumps({"company_id": company_id, "next": number}).encode() + b"\n")

    def _append(self, line: bytes) -> None:
        with self.path.open("ab") as journal:
            journal.write(line)
