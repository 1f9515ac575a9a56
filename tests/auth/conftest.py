"""Connections to the emulator with each auth type, built as the hook builds them, and reading the
documented entry through the sync and the async client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient
from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.hooks.connection_settings import settings_from_connection

#: one retry with short waits: an auth failure is not retried anyway
FAST = {"max_retries": 1, "backoff_factor": 0.05, "backoff_max": 0.2}


@pytest.fixture
def connect(bc_emulator: Any) -> Callable[..., ClientSettings]:
    """``connect(login, password, host=None, **extra)``: settings of the emulator's connection with those fields."""

    def build(login: str | None, password: str | None, host: str | None = None, **extra: Any) -> ClientSettings:
        conn = bc_emulator.airflow_connection(**FAST, **extra)
        return settings_from_connection(
            "bc_auth", login=login, password=password, host=host or conn["host"], extra=conn["extra"]
        )

    return build


def read_documented_entry(settings: ClientSettings, entry_id: str, path: str = "sync") -> dict[str, Any]:
    """The documented item ledger entry, read through the sync or the async client."""
    lookup = Lookup.build("itemLedgerEntries", entity_id=entry_id)
    if path == "sync":
        client = BusinessCentralClient(settings)
        try:
            return client.get(lookup)
        finally:
            client.close()

    async def read() -> dict[str, Any]:
        async with AsyncBusinessCentralClient(settings) as client:
            (entry,) = await client.lookup(lookup)
            return entry

    return asyncio.run(read())
