"""The transfer operator executed directly: arguments checked up front, summary, lineage, asset."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_bc.testing.emulator import EmulatorHandle
from airflow_provider_bc.transfers.business_central_to_object_storage import BusinessCentralToObjectStorageOperator
from tests.extraction.ledger import current_entries


@pytest.fixture
def connection(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())


def context(run_id: str, **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, **extra}


def test_the_summary_names_the_manifest_and_lineage_describes_both_sides(
    connection: None, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    operator = BusinessCentralToObjectStorageOperator(
        task_id="extract", destination=tmp_path.as_uri(), select="id,quantity", filter="entryNumber le 700"
    )
    summary = operator.execute(context("manual__2024-05-01T00:00:00+00:00"))
    manifest = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())
    assert summary == {
        "files": len(manifest["files"]),
        "rows": 700,
        "bytes": manifest["bytes"],
        "watermark": None,
        "manifest": summary["manifest"],
    }
    assert (
        "/itemLedgerEntries/company=" in summary["manifest"]
        and "manual__2024-05-01T00-00-00-00-00" in summary["manifest"]
    )
    assert manifest["query"]["select"] == ["id", "quantity", "entryNumber"]  # the partitions need entryNumber
    lineage = operator.get_openlineage_facets_on_complete(None)
    (source,) = lineage.inputs
    assert source.namespace == f"businesscentral://{emulator.tenant_id}/{emulator.environment}"
    assert source.name == f"{emulator.default_company_id}.itemLedgerEntries"
    assert [f.name for f in source.facets["schema"].fields] == ["id", "entryNumber", "quantity"]
    (target,) = lineage.outputs
    assert target.namespace == "file://" and target.name.endswith("manual__2024-05-01T00-00-00-00-00")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"format": "csv"}, "format"),
        ({"max_streams": 6}, "max_streams"),
        ({"cursor": "newest"}, "cursor"),
        ({"cursor": "entry_number", "cursor_start": "2024-01-01"}, "cursor_start"),
        ({"restate_days": -1, "cursor": "last_modified"}, "restate_days"),
        ({"select": "id;quantity"}, "select"),
        ({"company_id": "CRONUS"}, "company_id"),
    ],
)
def test_bad_arguments_fail_the_task_naming_the_field_before_any_read(
    arguments: dict[str, Any], field: str, connection: None, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    operator = BusinessCentralToObjectStorageOperator(task_id="extract", destination=tmp_path.as_uri(), **arguments)
    with pytest.raises(AirflowFailException, match=field):
        operator.execute(context("bad"))
    assert not [r for r in emulator.recent_requests() if r["route"] == "itemLedgerEntries"]


def test_a_data_interval_window_needs_a_data_interval(connection: None, tmp_path: Path) -> None:
    operator = BusinessCentralToObjectStorageOperator(
        task_id="extract", destination=tmp_path.as_uri(), cursor="last_modified", use_data_interval=True
    )
    with pytest.raises(AirflowFailException, match="use_data_interval"):
        operator.execute(context("manual"))
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    summary = operator.execute(
        context("scheduled", data_interval_start=start, data_interval_end=start + dt.timedelta(days=1))
    )
    assert summary["watermark"] == "2024-01-01T23:45:00Z"  # settled: the interval's end less the commit lag


def test_emit_asset_declares_the_destination_and_refuses_templates(tmp_path: Path) -> None:
    operator = BusinessCentralToObjectStorageOperator(task_id="extract", destination=tmp_path.as_uri(), emit_asset=True)
    assert [asset.uri for asset in operator.outlets] == [f"{tmp_path.as_uri()}/itemLedgerEntries"]
    with pytest.raises(ValueError, match="emit_asset"):
        BusinessCentralToObjectStorageOperator(task_id="x", destination="{{ params.lake }}", emit_asset=True)


def test_a_destination_that_cannot_hold_the_files_fails_the_task_naming_it(
    connection: None, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    (tmp_path / "itemLedgerEntries").write_text("a file where the entity set's folder goes")
    operator = BusinessCentralToObjectStorageOperator(task_id="extract", destination=tmp_path.as_uri())
    with pytest.raises(AirflowFailException, match="BusinessCentralDestinationError") as caught:
        operator.execute(context("blocked"))
    assert str(tmp_path / "itemLedgerEntries") in str(caught.value)


def test_a_torn_checkpoint_starts_the_run_over_instead_of_failing_every_retry(
    connection: None, emulator: EmulatorHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "itemLedgerEntries" / f"company={emulator.default_company_id}" / "damaged"
    folder.mkdir(parents=True)
    (folder / "_checkpoint.json").write_text('{"plan": {"series": ')  # cut while it was written
    (folder / "part-00000-00007.ndjson.gz").write_bytes(b"half a file")  # of the plan nobody can read
    operator = BusinessCentralToObjectStorageOperator(task_id="extract", destination=tmp_path.as_uri())
    summary = operator.execute(context("damaged"))
    assert summary["rows"] == len(current_entries(emulator))
    assert "cannot be read" in caplog.text and "starts over" in caplog.text
    listed = {f["name"] for f in json.loads((folder / "_manifest.json").read_text())["files"]}
    assert {p.name for p in folder.glob("part-*")} == listed  # the stray part of the torn plan is gone


@pytest.mark.parametrize(("pool", "pool_slots", "most"), [("business_central", 1, 1), ("business_central", 2, 2)])
def test_a_task_has_no_more_requests_in_flight_than_its_pool_slots_planning_included(
    connection: None, emulator: EmulatorHandle, tmp_path: Path, pool: str, pool_slots: int, most: int
) -> None:
    emulator.configure(latency=0.05)  # requests sent together overlap at the emulator
    operator = BusinessCentralToObjectStorageOperator(
        task_id="extract", destination=tmp_path.as_uri(), page_size=500, pool=pool, pool_slots=pool_slots
    )
    summary = operator.execute(context(f"pool-{pool_slots}"))
    assert summary["rows"] == len(current_entries(emulator))
    assert emulator.stats()["max_in_flight"] == most


def test_outside_a_pool_of_its_own_a_task_reads_with_max_streams(
    connection: None, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.configure(latency=0.05)
    operator = BusinessCentralToObjectStorageOperator(task_id="extract", destination=tmp_path.as_uri(), page_size=500)
    operator.execute(context("default-pool"))
    assert 3 <= emulator.stats()["max_in_flight"] <= 5
