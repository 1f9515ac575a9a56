"""Rows the extraction relies on, answered wrong: a page with a row whose ``entryNumber`` is text or
missing, whose ``lastModifiedDateTime`` is not a time or whose ``id`` is missing is a bad answer (asked
again), never a watermark built on it nor a raw ``ValueError``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError
from airflow_provider_bc.extraction.cursors import CursorOptions
from airflow_provider_bc.extraction.files import page_reader
from airflow_provider_bc.extraction.rows import checked_rows
from airflow_provider_bc.extraction.schema import EntityType
from airflow_provider_bc.extraction.streams import ROW_FIELDS_READ
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.extraction.ledger import current_entries, extract, ndjson_rows

GOOD = {
    "id": "6b2f6c5e-1d8e-4c5b-9a51-0f1e2d3c4b5a",
    "entryNumber": 7,
    "lastModifiedDateTime": "2024-01-02T03:04:05.6Z",
}
HOSTILE = [
    ({"entryNumber": "abc"}, "entryNumber 'abc'"),
    ({"entryNumber": None}, "entryNumber None"),
    ({"entryNumber": True}, "entryNumber True"),
    ({"entryNumber": 7.5}, "entryNumber Decimal('7.5')"),  # NDJSON reads numbers exactly
    ({"lastModifiedDateTime": "yesterday"}, "lastModifiedDateTime 'yesterday'"),
    ({"lastModifiedDateTime": "2024-01-02T03:04:05"}, "lastModifiedDateTime '2024-01-02T03:04:05'"),  # no zone
    ({"lastModifiedDateTime": 20240102}, "lastModifiedDateTime 20240102"),
    ({"id": ""}, "id ''"),
    ({"id": None}, "id None"),
]
ENTITY = EntityType(
    "itemLedgerEntries",
    {"id": "Edm.Guid", "entryNumber": "Edm.Int32", "lastModifiedDateTime": "Edm.DateTimeOffset"},
)


def _body(row: dict[str, Any]) -> bytes:
    import json

    return json.dumps({"value": [GOOD, {k: v for k, v in row.items() if v is not None}]}).encode()


@pytest.mark.parametrize("output_format", ["ndjson", "parquet"])
@pytest.mark.parametrize(("change", "named"), HOSTILE)
def test_a_page_with_a_row_the_run_cannot_trust_is_refused_naming_row_and_field(
    output_format: str, change: dict[str, Any], named: str
) -> None:
    read = checked_rows(page_reader(output_format, ENTITY, ROW_FIELDS_READ), list(ROW_FIELDS_READ))  # type: ignore[arg-type]
    row = {**GOOD, "id": "7c3a7d6f-2e9f-4d6c-8b62-1a2f3e4d5c6b", **change}
    with pytest.raises(ValueError) as caught:  # the client's exchange turns it into a bad answer
        read(_body(row))
    if output_format == "ndjson":  # Parquet's reader may refuse a value first, as not of its type
        assert f"entity 1 of the page has {named}" in str(caught.value)
    assert read(_body({**GOOD, "id": "7c3a7d6f-2e9f-4d6c-8b62-1a2f3e4d5c6b"}))["value"].column("entryNumber") == [7, 7]


def test_a_hostile_page_is_asked_again_and_the_run_holds_every_row_once(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    hostile = [{**GOOD, "entryNumber": "abc"}]
    emulator.add_fault("value", count=2, path_contains="entryNumber+ge", value=hostile)  # page reads only
    manifest, folder = extract(
        emulator, tmp_path, "hostile", page_size=1_000, cursor=CursorOptions(kind="entry_number")
    )
    rows = ndjson_rows(folder, manifest)
    assert Counter(row["id"] for row in rows) == Counter(list(current_entries(emulator)))
    assert manifest["cursor"]["settled"] == max(row["entryNumber"] for row in rows)  # no 'abc' in the mark
    assert emulator.stats()["faults_pending"] == []  # both struck, and were read again


def test_a_hostile_key_range_answer_is_a_typed_bad_answer(emulator: EmulatorHandle, tmp_path: Path) -> None:
    emulator.add_fault("value", count=10, path_contains="entryNumber+desc", value=[{**GOOD, "entryNumber": "9"}])
    with pytest.raises(BusinessCentralBadAnswerError, match="highest entryNumber was answered as '9'") as caught:
        extract(emulator, tmp_path, "edge")
    assert caught.value.transient


@pytest.mark.parametrize("stamp", ["2024-01-02T03:04:05+02:00", "2024-01-02T03:04:05.1234567Z", "0001-01-01T00:00:00Z"])
def test_times_in_other_valid_forms_are_taken(stamp: str) -> None:
    read = checked_rows(page_reader("ndjson", ENTITY, ROW_FIELDS_READ), list(ROW_FIELDS_READ))
    rows = read(_body({**GOOD, "id": "7c3a7d6f-2e9f-4d6c-8b62-1a2f3e4d5c6b", "lastModifiedDateTime": stamp}))["value"]
    assert rows.column("lastModifiedDateTime")[1] == stamp
