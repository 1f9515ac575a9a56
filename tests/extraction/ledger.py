"""What the extraction tests share: settings and clients for an emulator, the entries it holds now,
and the rows a run wrote."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.extraction.run import Extraction, ExtractionSpec
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.faults.conftest import emulator_settings

ENTRIES = 3_000


def settings_for(emulator: EmulatorHandle, **overrides: Any) -> ClientSettings:
    """The fault tests' settings for ``emulator`` (quick retries), with time to read a full page."""
    return emulator_settings(emulator, **{"read_timeout": 5.0, **overrides})


def clients_for(emulator: EmulatorHandle, **overrides: Any) -> Callable[[], BusinessCentralClient]:
    settings = settings_for(emulator, **overrides)
    return lambda: BusinessCentralClient(settings)


def current_entries(emulator: EmulatorHandle, company_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Every item ledger entry of the company now, by id, numbers exact (what a correct extraction holds)."""
    client = BusinessCentralClient(settings_for(emulator))
    try:
        return {
            row["id"]: row
            for row in client.iter_entities(
                "itemLedgerEntries", company_id=company_id, page_size=5_000, exact_numbers=True
            )
        }
    finally:
        client.close()


def ndjson_rows(run_folder: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a run's files, in manifest order, numbers exact."""
    rows: list[dict[str, Any]] = []
    for entry in manifest["files"]:
        data = (run_folder / entry["name"]).read_bytes()
        text = gzip.decompress(data) if entry["name"].endswith(".gz") else data
        rows.extend(json.loads(line, parse_float=Decimal) for line in text.decode().splitlines())
    return rows


def run_folders(root: Path, company_id: str, entity_set: str = "itemLedgerEntries") -> list[Path]:
    return sorted(p for p in (root / entity_set / f"company={company_id}").iterdir() if p.is_dir())


class WatchedPages:
    """Client factory for ``emulator`` whose clients call ``on_read(n)`` once the extraction's streams
    have read ``n`` pages (all together, ``n = 0`` as a stream starts reading): to strike mid-run."""

    def __init__(self, emulator: EmulatorHandle, on_read: Callable[[int], None], **overrides: Any) -> None:
        self.on_read, self.read = on_read, 0
        self.settings = settings_for(emulator, **overrides)

    def __call__(self) -> BusinessCentralClient:
        client = BusinessCentralClient(self.settings)
        iter_pages = client.iter_pages

        def watched(*args: Any, **kwargs: Any) -> Iterator[Any]:
            self.on_read(self.read)
            for page in iter_pages(*args, **kwargs):
                self.read += 1
                self.on_read(self.read)
                yield page

        client.iter_pages = watched  # type: ignore[method-assign]
        return client


def drop_after(emulator: EmulatorHandle, pages: int) -> WatchedPages:
    """Clients whose page requests the emulator drops once ``pages`` pages were read (by all streams
    together): the run fails mid-way, past its retry budget of 1."""

    def drop(read: int) -> None:
        if read == pages:
            emulator.add_fault("drop", count=1_000, path_contains="itemLedgerEntries")

    return WatchedPages(emulator, drop, max_retries=1)


def after_planning(emulator: EmulatorHandle, strike: Callable[[], object], **overrides: Any) -> WatchedPages:
    """Clients for ``emulator`` that call ``strike()`` once, as the run (planned with them) has its first
    stream start reading pages: a fault that strikes page reads, not the planning's requests."""
    struck = threading.Lock()

    def once(_: int) -> None:
        if struck.acquire(blocking=False):  # never released: the first stream to read strikes, alone
            strike()

    return WatchedPages(emulator, once, **overrides)


def revoked_after_planning(emulator: EmulatorHandle, **overrides: Any) -> WatchedPages:
    """Clients whose tokens are revoked once the run has planned (with them) and starts reading
    pages: the streams still hold the revoked token in MSAL's cache."""
    return after_planning(emulator, emulator.revoke_tokens, **overrides)


#: a fault during a run: the emulator's faults added now, or the clients to run with (``None``: any)
FAULTS: dict[str, Callable[[EmulatorHandle], Callable[[], BusinessCentralClient] | None]] = {
    "drops": lambda e: e.add_fault("drop", count=2, route="itemLedgerEntries"),
    "429 storm with Retry-After": lambda e: e.add_fault(429, count=4, route="itemLedgerEntries", retry_after=1),
    "503 burst": lambda e: e.add_fault(503, count=3, route="itemLedgerEntries"),
    "token revoked mid-run": revoked_after_planning,
}
#: what the emulator answered where the fault struck (a revoked token: 401, then a new token)
STRUCK = {"drops": None, "429 storm with Retry-After": 429, "503 burst": 503, "token revoked mid-run": 401}


def struck_after_planning(emulator: EmulatorHandle, fault: str, **overrides: Any) -> WatchedPages:
    """Clients for a run that ``FAULTS[fault]`` strikes once it has planned, as its first stream starts
    reading pages (the emulator's faults, added before a run, strike its planning's first requests)."""
    if FAULTS[fault] is revoked_after_planning:  # strikes after planning already
        return revoked_after_planning(emulator, **overrides)
    return after_planning(emulator, lambda: FAULTS[fault](emulator), **overrides)


def ledger_spec(emulator: EmulatorHandle, run_name: str, **options: Any) -> ExtractionSpec:
    """An extraction of the item ledger of ``emulator``'s default company (or ``company_id``)."""
    return ExtractionSpec(
        entity_set="itemLedgerEntries", run_name=run_name, **{"company_id": emulator.default_company_id, **options}
    )


def extract(
    emulator: EmulatorHandle,
    root: Path,
    run_name: str,
    *,
    clients: Callable[[], BusinessCentralClient] | None = None,
    now: Callable[[], dt.datetime] | None = None,
    **options: Any,
) -> tuple[dict[str, Any], Path]:
    """Run :func:`ledger_spec` into ``root`` (with ``clients``, default :func:`clients_for`); its manifest
    and run folder."""
    extraction = Extraction(
        ledger_spec(emulator, run_name, **options),
        ObjectStoragePath(root.as_uri()),
        clients or clients_for(emulator),
        **({"now": now} if now else {}),
    )
    return extraction.run(), Path(str(extraction.folder).removeprefix("file://"))


def interrupted(emulator: EmulatorHandle, root: Path, spec: ExtractionSpec, pages: int) -> ObjectStoragePath:
    """Run ``spec`` into ``root`` while the emulator drops every page request once ``pages`` pages were
    read: the run fails mid-way (a checkpoint, no manifest). The destination, for the run's retry."""
    destination = ObjectStoragePath(root.as_uri())
    with pytest.raises(BusinessCentralError):
        Extraction(spec, destination, drop_after(emulator, pages)).run()
    return destination
