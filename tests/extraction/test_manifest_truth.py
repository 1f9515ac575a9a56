"""A manifest says what its run holds, and a run says where its data came from: each field checked
against the files; runs of two environments (a sandbox keeps production's company ids) never share
a folder; errors of the store say whether a retry can help."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, ObjectStoragePath

from airflow_provider_bc.extraction.errors import BusinessCentralDestinationError
from airflow_provider_bc.testing.emulator import EmulatorHandle
from airflow_provider_bc.transfers.business_central_to_object_storage import BusinessCentralToObjectStorageOperator
from tests.extraction.ledger import extract, ndjson_rows

QUERY = "entryNumber le 1500"


@pytest.mark.parametrize(
    ("output_format", "gzip_ndjson", "compression"),
    [("ndjson", True, "gzip"), ("ndjson", False, None), ("parquet", True, "snappy")],
)
def test_every_manifest_field_matches_the_files_it_describes(
    emulator: EmulatorHandle, tmp_path: Path, output_format: str, gzip_ndjson: bool, compression: str | None
) -> None:
    import pyarrow.parquet as pq

    manifest, folder = extract(
        emulator,
        tmp_path,
        "truth",
        filter=QUERY,
        output_format=output_format,
        compress=gzip_ndjson,
        page_size=400,
        rows_per_file=800,
    )
    assert manifest["format"] == {"type": output_format, "compression": compression}
    assert manifest["query"]["filter"] == QUERY and manifest["query"]["format"] == output_format
    rows: list[dict[str, Any]] = []
    for entry in manifest["files"]:
        data = (folder / entry["name"]).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
        if output_format == "parquet":
            metadata = pq.ParquetFile(folder / entry["name"]).metadata
            codecs = {
                metadata.row_group(g).column(c).compression
                for g in range(metadata.num_row_groups)
                for c in range(metadata.num_columns)
            }
            assert codecs == {"SNAPPY"}
            part = pq.read_table(folder / entry["name"]).to_pylist()
        else:
            assert data.startswith(b"\x1f\x8b") == gzip_ndjson  # gzip's magic number, or none
            text = gzip.decompress(data) if gzip_ndjson else data
            part = [json.loads(line) for line in text.splitlines()]
        assert len(part) == entry["rows"]
        rows.extend(part)
    assert manifest["rows"] == len(rows) == 1_500
    assert manifest["bytes"] == sum(f["bytes"] for f in manifest["files"])
    assert manifest["max_entry_number"] == max(row["entryNumber"] for row in rows)
    assert {p.name for p in folder.iterdir()} == {f["name"] for f in manifest["files"]} | {"_manifest.json"}
    assert all(row["@odata.etag"].startswith('W/"') for row in rows), "each row keeps its version tag"


def test_parquet_and_ndjson_rows_carry_the_same_etags(emulator: EmulatorHandle, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    ndjson, ndjson_folder = extract(emulator, tmp_path / "n", "n", filter=QUERY)
    parquet, parquet_folder = extract(emulator, tmp_path / "p", "p", filter=QUERY, output_format="parquet")
    from_ndjson = {row["id"]: row["@odata.etag"] for row in ndjson_rows(ndjson_folder, ndjson)}
    from_parquet = {
        row["id"]: row["@odata.etag"]
        for f in parquet["files"]
        for row in pq.read_table(parquet_folder / f["name"], columns=["id", "@odata.etag"]).to_pylist()
    }
    assert from_parquet == from_ndjson and len(from_ndjson) == 1_500


@pytest.mark.parametrize(
    ("code", "transient"),
    [(errno.EROFS, False), (errno.EACCES, False), (errno.EIO, True), (errno.ENOSPC, True)],
)
def test_a_store_error_is_transient_only_when_waiting_may_help(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, transient: bool
) -> None:
    # the store's own failure is what no emulator answers: the part file's open raises it
    def refuse(self: ObjectStoragePath, *args: Any, **kwargs: Any) -> Any:
        raise OSError(code, errno.errorcode[code], str(self))

    monkeypatch.setattr(ObjectStoragePath, "open", refuse)
    with pytest.raises(BusinessCentralDestinationError, match=errno.errorcode[code]) as caught:
        extract(emulator, tmp_path, "refused", filter=QUERY)
    assert caught.value.transient is transient


def test_a_sandbox_run_into_productions_folder_is_refused_and_its_own_destination_holds_its_data(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = emulator.default_company_id
    for environment in ("production", "sandbox"):
        conn = emulator.airflow_connection_env(environment=environment)
        monkeypatch.setenv(f"AIRFLOW_CONN_BC_{environment.upper()}", conn)
    only_in_sandbox = [emulator.insert_entry(environment="sandbox", description=f"sandbox {i}") for i in range(5)]
    only_in_production = emulator.insert_entry(description="production only")

    def extract_from(environment: str, destination: Path, run_id: str) -> dict[str, Any]:
        operator = BusinessCentralToObjectStorageOperator(
            task_id="extract",
            destination=destination.as_uri(),
            cursor="last_modified",
            business_central_conn_id=f"bc_{environment}",
        )
        return operator.execute({"run_id": run_id})

    production = extract_from("production", tmp_path / "lake", "prod-1")
    with pytest.raises(AirflowFailException, match=r"environment 'production' in prod-1, 'sandbox' here"):
        extract_from("sandbox", tmp_path / "lake", "sandbox-1")
    assert not (tmp_path / "lake" / "itemLedgerEntries" / f"company={company}" / "sandbox-1").exists()

    sandbox = extract_from("sandbox", tmp_path / "sandbox-lake", "sandbox-1")
    sandbox_manifest = json.loads(Path(sandbox["manifest"].removeprefix("file://")).read_text())
    sandbox_ids = {
        row["id"] for row in ndjson_rows(Path(sandbox["manifest"].removeprefix("file://")).parent, sandbox_manifest)
    }
    assert {e["id"] for e in only_in_sandbox} <= sandbox_ids and only_in_production["id"] not in sandbox_ids
    assert sandbox["rows"] == production["rows"] - 1 + len(only_in_sandbox)
    assert sandbox_manifest["source"]["environment"] == "sandbox"
    assert set(sandbox_manifest["source"]) == {"host", "tenant", "environment", "api_route"}
    production_manifest = json.loads(Path(production["manifest"].removeprefix("file://")).read_text())
    assert production_manifest["series"] != sandbox_manifest["series"]
    assert production_manifest["source"]["tenant"] == emulator.tenant_id.lower()
