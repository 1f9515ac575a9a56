"""The extraction example DAGs, run for real with ``dag.test()`` against this module's emulator."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.testing.airflow_runs import load_dag, task_states, xcom_value
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.extraction.ledger import current_entries, ndjson_rows
from tests.support import EXAMPLE_DAGS


@pytest.fixture
def connection(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())


def manifests(root: Path, run_id: str) -> dict[str, tuple[Path, dict[str, Any]]]:
    """company id -> (run folder, manifest) of the DAG run ``run_id`` (mapped tasks add their map index)."""
    found = {}
    for path in root.glob("itemLedgerEntries/company=*/*/_manifest.json"):
        manifest = json.loads(path.read_text())
        if manifest["run"].startswith(run_id):
            found[manifest["company_id"]] = (path.parent, manifest)
    return found


def test_the_daily_dag_extracts_every_company_then_only_what_changed(
    airflow_db: None, connection: None, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    dag = load_dag(EXAMPLE_DAGS / "bc_extract_item_ledger.py")
    conf = {"destination": tmp_path.as_uri()}
    first = dag.test(run_conf=conf)
    assert str(first.state) == "success", task_states(first)
    companies = xcom_value(first, "companies")
    assert sorted(companies) == sorted(c["id"] for c in emulator.companies)

    company = emulator.default_company_id
    ids = sorted(current_entries(emulator))
    changed = [emulator.insert_entry(postingDate="2022-06-01"), emulator.modify_entry(company, ids[7], quantity=5)]
    second = dag.test(run_conf=conf)
    assert str(second.state) == "success", task_states(second)

    first_runs, second_runs = manifests(tmp_path, first.run_id), manifests(tmp_path, second.run_id)
    assert set(first_runs) == set(second_runs) == set(companies)
    folder, manifest = second_runs[company]
    assert Counter(row["id"] for row in ndjson_rows(folder, manifest)) == Counter(e["id"] for e in changed)
    assert first_runs[company][1]["rows"] == len(ids)  # every entry there was before the changes
    first_cursor = first_runs[company][1]["cursor"]
    assert manifest["cursor"]["from"] == first_cursor["settled"] < first_cursor["to"]  # the open range read again


def test_the_backfill_dag_writes_every_entry_once_in_mapped_parquet_ranges(
    airflow_db: None, connection: None, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    dag = load_dag(EXAMPLE_DAGS / "bc_backfill_item_ledger.py")
    run = dag.test(run_conf={"destination": tmp_path.as_uri(), "partitions": 3})
    assert str(run.state) == "success", task_states(run)
    ids: list[str] = []
    for path in tmp_path.glob(f"itemLedgerEntries/company={emulator.default_company_id}/*/_manifest.json"):
        manifest = json.loads(path.read_text())
        if manifest["run"].startswith(run.run_id):
            for part in manifest["files"]:
                ids += pq.read_table(path.parent / part["name"], columns=["id"]).column("id").to_pylist()
    assert Counter(ids) == Counter(list(current_entries(emulator)))
