"""Test-session setup: a throw-away AIRFLOW_HOME with a SQLite metadata DB, set before Airflow loads."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_home = tempfile.mkdtemp(prefix="bc-airflow-home-")
os.environ["AIRFLOW_HOME"] = _home
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home}/airflow.db"
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
