"""Extraction runs against the emulator: every row once, incremental runs that neither lose nor
duplicate, resumption after a failure, checksums that match the files."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.extraction.cursors import CursorOptions
from airflow_provider_bc.extraction.run import Extraction
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.extraction import ledger
from tests.extraction.ledger import ENTRIES, clients_for, current_entries, interrupted, ledger_spec, ndjson_rows


def extract(
    emulator: EmulatorHandle, root: Path, run_name: str, *, settings: dict[str, Any] | None = None, **spec: Any
) -> tuple[dict[str, Any], Path]:
    """One extraction into ``root`` with the clients of ``settings``; its manifest and run folder."""
    return ledger.extract(emulator, root, run_name, clients=clients_for(emulator, **(settings or {})), **spec)


def test_a_full_run_writes_every_entry_once_with_matching_checksums(emulator: EmulatorHandle, tmp_path: Path) -> None:
    manifest, folder = extract(emulator, tmp_path, "full-1", page_size=500, rows_per_file=1_000)
    rows = ndjson_rows(folder, manifest)
    expected = current_entries(emulator)
    assert Counter(row["id"] for row in rows) == Counter(list(expected))  # each id exactly once
    assert {row["id"]: row for row in rows} == expected  # the same values, numbers exact
    assert manifest["rows"] == len(expected) >= ENTRIES
    for entry in manifest["files"]:
        data = (folder / entry["name"]).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["rows"] == len(gzip.decompress(data).splitlines())
    assert manifest["max_entry_number"] == max(row["entryNumber"] for row in expected.values())
    assert not (folder / "_checkpoint.json").exists()
    assert emulator.stats()["max_in_flight"] <= 5


def test_number_text_is_kept_as_the_api_wrote_it(emulator: EmulatorHandle, tmp_path: Path) -> None:
    entry = emulator.insert_entry(quantity=Decimal("3.10"), costAmountActual=Decimal("1234567890.123456789"))
    manifest, folder = extract(emulator, tmp_path, "numbers", filter=f"entryNumber eq {entry['entryNumber']}")
    line = gzip.decompress((folder / manifest["files"][0]["name"]).read_bytes()).decode()
    assert '"costAmountActual":1234567890.123456789' in line


def test_two_last_modified_runs_hold_every_current_entry_once_in_its_newest_version(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    just_before = emulator.insert_entry(description="changed minutes before the first run: in both windows")
    first, first_folder = extract(emulator, tmp_path, "lm-1", cursor=CursorOptions(kind="last_modified"), page_size=700)
    first_rows = ndjson_rows(first_folder, first)
    never_modified = [row for row in first_rows if row["lastModifiedDateTime"].startswith("0001-01-01")]
    assert never_modified, (
        "the seed has entries never modified since system fields were added; the first run takes them"
    )

    company = emulator.default_company_id
    ids = sorted(row["id"] for row in first_rows)
    inserted = [emulator.insert_entry(description=f"new {i}") for i in range(3)]
    modified = [emulator.modify_entry(company, entry_id, description="changed") for entry_id in (ids[5], ids[500])]
    if never_modified[0]["id"] not in {ids[5], ids[500]}:
        modified.append(emulator.modify_entry(company, never_modified[0]["id"], description="changed too"))

    second, second_folder = extract(
        emulator, tmp_path, "lm-2", cursor=CursorOptions(kind="last_modified"), page_size=700
    )
    second_rows = ndjson_rows(second_folder, second)
    assert {row["id"] for row in second_rows} == {e["id"] for e in [*inserted, *modified]}
    assert just_before["id"] in {row["id"] for row in first_rows}
    assert [just_before["id"], just_before["lastModifiedDateTime"]] in first["cursor"]["open_rows"]
    assert second["cursor"]["from"] == first["cursor"]["settled"] < first["cursor"]["to"]

    versions = Counter((row["id"], row["lastModifiedDateTime"]) for row in [*first_rows, *second_rows])
    assert max(versions.values()) == 1, "a version of an entry was delivered twice"
    newest: dict[str, dict[str, Any]] = {}
    for row in [*first_rows, *second_rows]:  # later runs win
        newest[row["id"]] = row
    assert newest == current_entries(emulator)


def test_an_entry_number_run_reads_only_what_was_appended(emulator: EmulatorHandle, tmp_path: Path) -> None:
    first, _ = extract(emulator, tmp_path, "en-1", cursor=CursorOptions(kind="entry_number"))
    appended = [emulator.insert_entry(description=f"appended {i}") for i in range(4)]
    emulator.reset()
    second, folder = extract(emulator, tmp_path, "en-2", cursor=CursorOptions(kind="entry_number"))
    assert [row["id"] for row in ndjson_rows(folder, second)] == [e["id"] for e in appended]
    assert second["cursor"]["from"] == first["cursor"]["settled"] <= first["max_entry_number"]
    assert second["cursor"]["open"]["through"] == appended[-1]["entryNumber"]  # posted now: not settled yet
    assert {e["id"] for e in appended} <= {row[0] for row in second["cursor"]["open_rows"]}


def test_restate_days_picks_up_a_cost_adjustment_that_last_modified_misses(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    recent = emulator.insert_entry(postingDate=today.isoformat(), description="posted today")
    plain = CursorOptions(kind="last_modified")
    restating = CursorOptions(kind="last_modified", restate_days=3, today=today)
    extract(emulator, tmp_path / "plain", "r-1", cursor=plain)
    extract(emulator, tmp_path / "restating", "r-1", cursor=restating)

    adjusted = emulator.post_cost_adjustment(emulator.default_company_id, recent["id"], Decimal("12.34"))
    assert adjusted["lastModifiedDateTime"] == recent["lastModifiedDateTime"]

    missed, missed_folder = extract(emulator, tmp_path / "plain", "r-2", cursor=plain)
    caught, caught_folder = extract(emulator, tmp_path / "restating", "r-2", cursor=restating)
    assert recent["id"] not in {row["id"] for row in ndjson_rows(missed_folder, missed)}
    restated = {row["id"]: row for row in ndjson_rows(caught_folder, caught)}
    assert restated[recent["id"]]["costAmountActual"] == Decimal(str(adjusted["costAmountActual"]))
    assert caught["cursor"]["restate_from"] == (today - dt.timedelta(days=3)).isoformat()


def test_a_run_that_fails_mid_way_resumes_and_holds_every_row_once(emulator: EmulatorHandle, tmp_path: Path) -> None:
    # the seed: 10 partitions of one full page each
    spec = ledger_spec(
        emulator, "resumed", filter="entryNumber le 3000", page_size=300, rows_per_file=300, max_streams=1
    )
    destination = interrupted(emulator, tmp_path, spec, pages=3)
    folder = tmp_path / "itemLedgerEntries" / f"company={emulator.default_company_id}" / "resumed"
    checkpoint = json.loads((folder / "_checkpoint.json").read_text())
    assert not (folder / "_manifest.json").exists()
    assert sum(len(s["files"]) for s in checkpoint["streams"]) == 3

    emulator.reset()  # the outage is over; the task is retried
    manifest = Extraction(spec, destination, clients_for(emulator)).run()
    reads = [r for r in emulator.recent_requests() if r["route"] == "itemLedgerEntries"]
    assert len(reads) == len(manifest["files"]) - 3, "the retry re-read pages it had written before"
    rows = ndjson_rows(folder, manifest)
    seed = [entry_id for entry_id, row in current_entries(emulator).items() if row["entryNumber"] <= 3_000]
    assert Counter(row["id"] for row in rows) == Counter(seed)
    assert Counter(row["entryNumber"] for row in rows) == Counter(range(1, 3_001))


def test_a_429_storm_during_a_five_stream_read_loses_nothing(
    emulator: EmulatorHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="airflow_provider_bc.extraction")
    emulator.configure(latency=0.05, rate_limit=6, rate_window=1)
    manifest, folder = extract(
        emulator, tmp_path, "storm", page_size=100, max_streams=5, settings={"max_retries": 10, "backoff_max": 1.0}
    )
    rows = ndjson_rows(folder, manifest)
    assert Counter(row["id"] for row in rows) == Counter(list(current_entries(emulator)))
    stats = emulator.stats()
    assert stats["max_in_flight"] <= 5 and stats["max_in_flight"] > 1
    throttled = sum(r["status"] == 429 for r in emulator.recent_requests())
    assert throttled >= 5
    last_progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Progress:")][-1]
    assert f"{manifest['rows']:,} rows read" in last_progress and f"({throttled} answered 429" in last_progress


def test_parquet_files_carry_the_metadata_types_and_exact_decimals(emulator: EmulatorHandle, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    entry = emulator.insert_entry(quantity=Decimal("3.10"), costAmountActual=Decimal("1234567890.123456789"))
    manifest, folder = extract(emulator, tmp_path, "parquet", output_format="parquet", page_size=400, rows_per_file=900)
    table = pa.concat_tables([pq.read_table(folder / f["name"]) for f in manifest["files"]])
    types = dict(zip(table.schema.names, table.schema.types, strict=True))
    assert pa.types.is_decimal(types["costAmountActual"]) and pa.types.is_decimal(types["quantity"])
    assert types["postingDate"] == pa.date32() and types["entryNumber"] == pa.int32()
    assert pa.types.is_timestamp(types["lastModifiedDateTime"])
    assert manifest["schema"]["costAmountActual"] == "Edm.Decimal"
    rows = {row["id"]: row for row in table.to_pylist()}
    expected = current_entries(emulator)
    assert set(rows) == set(expected) and table.num_rows == manifest["rows"] == len(expected)
    assert rows[entry["id"]]["costAmountActual"] == Decimal("1234567890.123456789")
    assert all(rows[i]["quantity"] == Decimal(str(expected[i]["quantity"])) for i in expected)
    assert all(rows[i]["postingDate"].isoformat() == expected[i]["postingDate"] for i in expected)


def test_a_bad_select_names_the_field_before_any_page_is_read(emulator: EmulatorHandle, tmp_path: Path) -> None:
    from airflow_provider_bc.client.errors import BusinessCentralQueryError

    with pytest.raises(BusinessCentralQueryError, match="noSuchField") as caught:
        extract(emulator, tmp_path, "bad", select=("id", "noSuchField"))
    assert caught.value.field == "select"
    assert not [r for r in emulator.recent_requests() if r.get("route") == "itemLedgerEntries"]
