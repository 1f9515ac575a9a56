"""One run into ``s3://`` on a real S3-compatible server (moto's), through ``ObjectStoragePath``."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_bc.extraction.run import Extraction, ExtractionSpec
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.extraction.conftest import BUCKET
from tests.extraction.ledger import clients_for, current_entries


@pytest.fixture
def s3_connection(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    conn = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_S3", json.dumps(conn))
    return "lake_s3"


def test_a_run_into_s3_writes_parts_and_a_manifest_that_matches_them(
    emulator: EmulatorHandle, s3_connection: str
) -> None:
    destination = ObjectStoragePath(f"s3://{BUCKET}/bc", conn_id=s3_connection)
    spec = ExtractionSpec(
        entity_set="itemLedgerEntries", company_id=emulator.default_company_id, run_name="s3-run", page_size=1_000
    )
    extraction = Extraction(spec, destination, clients_for(emulator))
    manifest = extraction.run()
    written = json.loads((extraction.folder / "_manifest.json").read_text())
    assert written == json.loads(json.dumps(manifest))
    ids: list[Any] = []
    for entry in manifest["files"]:
        data = (extraction.folder / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
        ids.extend(json.loads(line)["id"] for line in gzip.decompress(data).splitlines())
    assert sorted(ids) == sorted(current_entries(emulator))
    assert extraction.folder.protocol == "s3"
    assert extraction.folder.path.startswith(f"{BUCKET}/bc/itemLedgerEntries/company=")
