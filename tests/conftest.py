"""Test-session setup: a throw-away AIRFLOW_HOME with a SQLite metadata DB, set before Airflow loads."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.testing.airflow_runs import prepare_airflow_home

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "dags_examples"
TEST_DAGS = Path(__file__).resolve().parent / "dags"

prepare_airflow_home(Path(tempfile.mkdtemp(prefix="bc-airflow-home-")), EXAMPLE_DAGS, TEST_DAGS)
os.environ.pop("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", None)


DOCUMENTED_ENTRY_FILE = Path(__file__).parent / "emulator" / "data" / "documented_item_ledger_entry.json"
DOCUMENTED_FIELDS = [
    "@odata.etag",
    "id",
    "entryNumber",
    "itemNumber",
    "postingDate",
    "entryType",
    "sourceNumber",
    "sourceType",
    "documentNumber",
    "documentType",
    "description",
    "quantity",
    "salesAmountActual",
    "costAmountActual",
    "lastModifiedDateTime",
]


@pytest.fixture(scope="session")
def documented_entry() -> dict[str, Any]:
    """Microsoft's documented example response (copied from the reference)."""
    return dict(json.loads(DOCUMENTED_ENTRY_FILE.read_text(encoding="utf-8")))


@pytest.fixture
def defined_connections() -> list[dict[str, Any]]:
    """Every connection ``bc_connection`` defined in the current test."""
    return []


@pytest.fixture
def bc_connection(
    bc_emulator: Any, monkeypatch: pytest.MonkeyPatch, defined_connections: list[dict[str, Any]]
) -> Callable[..., dict[str, Any]]:
    """Define an Airflow connection (env var) to the emulator; ``fresh_client=True`` registers a new
    Entra app so the test starts with an empty MSAL token cache. Returns the connection dict."""

    def define(
        conn_id: str = "business_central_default", *, fresh_client: bool = False, **extra: Any
    ) -> dict[str, Any]:
        conn = bc_emulator.airflow_connection()
        if fresh_client:
            conn["login"], conn["password"] = bc_emulator.register_client()
        conn["extra"].update(extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        defined_connections.append(conn)
        return dict(conn)

    return define


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The metadata DB's tables, created once per test session (``dag.test()`` needs them)."""
    from airflow_provider_bc.testing.airflow_runs import create_metadata_db

    create_metadata_db()
