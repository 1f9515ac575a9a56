"""What the extraction tests share: settings and clients for an emulator, the entries it holds now,
and the rows a run wrote."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.settings import ClientSettings
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
