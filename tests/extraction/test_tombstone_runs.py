"""Tombstones against the emulator (:mod:`airflow_provider_bc.extraction.tombstones`): a run's key set,
the entities deleted in Business Central since the previous run of its series named in the next one,
what a run delivered and lost before its key read, and a key set that is not what a run writes."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.errors import BusinessCentralError, BusinessCentralQueryError
from airflow_provider_bc.extraction.cursors import CursorOptions
from airflow_provider_bc.extraction.errors import BusinessCentralDestinationError
from airflow_provider_bc.extraction.tombstones import KEYS, TOMBSTONES
from airflow_provider_bc.testing.emulator import EmulatorHandle
from airflow_provider_bc.transfers.business_central_to_object_storage import BusinessCentralToObjectStorageOperator
from tests.extraction.ledger import current_entries, extract, ledger_spec, ndjson_rows, settings_for

LAST_MODIFIED = CursorOptions(kind="last_modified")


def _lines(path: Path) -> list[Any]:
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]


def _current_ids(emulator: EmulatorHandle) -> list[str]:
    return sorted(entry_id.lower() for entry_id in current_entries(emulator))


def _run(emulator: EmulatorHandle, root: Path, name: str, **options: Any) -> tuple[dict[str, Any], Path]:
    options = {"cursor": LAST_MODIFIED, "tombstones": True, "page_size": 1_000, **options}
    return extract(emulator, root, name, **options)


class BeforeKeyRead:
    """Client factory for ``emulator`` whose clients call ``strike()`` as the run starts its id-only
    read (``$select=id``), after its streams have written every row: ``count`` such reads at most."""

    def __init__(self, emulator: EmulatorHandle, strike: Callable[[], object], **overrides: Any) -> None:
        self.strike, self.reads = strike, 0
        self.settings = settings_for(emulator, **overrides)

    def __call__(self) -> BusinessCentralClient:
        client = BusinessCentralClient(self.settings)
        iter_pages = client.iter_pages

        def watched(entity_set: str, **options: Any) -> Iterator[Any]:
            if options.get("select") == ["id"]:
                self.reads += 1
                self.strike()
            return iter_pages(entity_set, **options)

        client.iter_pages = watched  # type: ignore[method-assign]
        return client


def test_the_next_run_names_exactly_the_entities_deleted_since_the_previous_one(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    first, first_folder = _run(emulator, tmp_path, "run-1")
    (key_read,) = [r for r in emulator.recent_requests() if r["path"].endswith("?%24select=id")]  # no window
    assert key_read["headers"]["Prefer"] == "odata.maxpagesize=20000"
    ids = _current_ids(emulator)
    assert first["keys"] == {"name": KEYS, "rows": len(ids), "bytes": (first_folder / KEYS).stat().st_size}
    assert _lines(first_folder / KEYS) == ids  # lower-case, sorted, once each
    assert first["tombstones"] is None and not (first_folder / TOMBSTONES).exists()

    company = emulator.default_company_id
    deleted = sorted([ids[7], ids[2_000]])
    for entry_id in deleted:
        emulator.delete_entry(company, entry_id)
    came_and_went = emulator.insert_entry(description="created after run 1, deleted before run 2")
    emulator.delete_entry(company, came_and_went["id"])
    emulator.insert_entry(description="created after run 1")

    second, second_folder = _run(emulator, tmp_path, "run-2")
    assert second["tombstones"] == {
        "name": TOMBSTONES,
        "rows": 2,
        "bytes": (second_folder / TOMBSTONES).stat().st_size,
        "against": "run-1",
    }
    assert _lines(second_folder / TOMBSTONES) == [{"id": entry_id} for entry_id in deleted]
    assert _lines(second_folder / KEYS) == _current_ids(emulator)
    assert second["keys"]["rows"] == len(ids) - 2 + 1
    assert second["series"] == first["series"] and second["based_on"] == "run-1"


def test_an_entity_delivered_then_deleted_before_the_key_read_is_a_tombstone_of_the_next_run(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    _run(emulator, tmp_path, "run-a")
    fleeting = emulator.insert_entry(description="delivered by run b, deleted before its key read")
    delete = BeforeKeyRead(emulator, lambda: emulator.delete_entry(None, fleeting["id"]))

    second, second_folder = _run(emulator, tmp_path, "run-b", clients=delete)
    assert delete.reads == 1
    assert fleeting["id"] in {row["id"] for row in ndjson_rows(second_folder, second)}
    assert fleeting["id"].lower() in _lines(second_folder / KEYS)  # delivered: in its key set
    assert second["tombstones"]["rows"] == 0  # not in run a's

    third, third_folder = _run(emulator, tmp_path, "run-c")
    assert _lines(third_folder / TOMBSTONES) == [{"id": fleeting["id"].lower()}]
    assert third["tombstones"]["against"] == "run-b"


def test_the_key_set_is_the_whole_query_not_the_cursor_window(emulator: EmulatorHandle, tmp_path: Path) -> None:
    entry_filter = "entryNumber le 500"
    first, _ = _run(emulator, tmp_path, "window-1", cursor=CursorOptions(kind="entry_number"), filter=entry_filter)
    within = sorted(row["id"].lower() for row in current_entries(emulator).values() if row["entryNumber"] <= 500)
    emulator.delete_entry(None, within[0])

    second, folder = _run(
        emulator, tmp_path, "window-2", cursor=CursorOptions(kind="entry_number"), filter=entry_filter
    )
    assert second["rows"] == 0 < first["rows"]  # nothing new in the window
    assert _lines(folder / KEYS) == within[1:]
    assert _lines(folder / TOMBSTONES) == [{"id": within[0]}]


def test_a_parquet_series_has_its_key_set_and_tombstones_too(emulator: EmulatorHandle, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    _run(emulator, tmp_path, "pq-1", output_format="parquet", select=("id", "quantity"))
    fleeting = emulator.insert_entry(description="delivered in Parquet, deleted before the key read")
    delete = BeforeKeyRead(emulator, lambda: emulator.delete_entry(None, fleeting["id"]))
    _, second_folder = _run(
        emulator, tmp_path, "pq-2", output_format="parquet", select=("id", "quantity"), clients=delete
    )
    assert fleeting["id"].lower() in _lines(second_folder / KEYS)  # read back from the Parquet part
    _, third_folder = _run(emulator, tmp_path, "pq-3", output_format="parquet", select=("id", "quantity"))
    assert _lines(third_folder / TOMBSTONES) == [{"id": fleeting["id"].lower()}]


def test_a_run_that_fails_in_its_key_read_commits_nothing_and_its_retry_reads_again(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    _run(emulator, tmp_path, "retry-1")
    deleted = emulator.insert_entry(description="deleted before retry-2")["id"]
    failing = BeforeKeyRead(
        emulator, lambda: emulator.add_fault("drop", count=100, route="itemLedgerEntries"), max_retries=1
    )
    with pytest.raises(BusinessCentralError):
        _run(emulator, tmp_path, "retry-2", clients=failing)
    folder = next(tmp_path.glob("itemLedgerEntries/company=*/retry-2"))
    assert not (folder / "_manifest.json").exists() and (folder / "_checkpoint.json").exists()

    emulator.reset()
    emulator.delete_entry(None, deleted)
    again = BeforeKeyRead(emulator, lambda: None)
    second, _ = _run(emulator, tmp_path, "retry-2", clients=again)
    assert again.reads == 1  # the key read done again, the rows not read again
    assert _lines(folder / KEYS) == sorted([*_current_ids(emulator), deleted.lower()])  # delivered by the first try
    assert second["tombstones"]["against"] == "retry-1" and second["tombstones"]["rows"] == 0  # not in retry-1


def test_a_previous_key_set_that_is_not_what_a_run_writes_fails_the_run_naming_it(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    _, first_folder = _run(emulator, tmp_path, "bad-1")
    (first_folder / KEYS).write_bytes(gzip.compress(b'"b"\n"a"\n'))
    with pytest.raises(BusinessCentralDestinationError, match="is not a key set an extraction wrote") as raised:
        _run(emulator, tmp_path, "bad-2")
    assert str(first_folder / KEYS) in str(raised.value) and raised.value.transient is False
    assert not (first_folder.parent / "bad-2" / "_manifest.json").exists()

    (first_folder / KEYS).unlink()
    with pytest.raises(BusinessCentralDestinationError, match=re.escape(KEYS)) as missing:
        _run(emulator, tmp_path, "bad-2")
    assert missing.value.transient is False


def test_a_previous_run_without_a_key_set_gives_no_tombstones(emulator: EmulatorHandle, tmp_path: Path) -> None:
    _run(emulator, tmp_path, "off-1", tombstones=False)
    second, folder = _run(emulator, tmp_path, "on-2")
    assert second["tombstones"] is None and (folder / KEYS).exists() and not (folder / TOMBSTONES).exists()


def test_with_tombstones_off_a_run_writes_no_key_set(emulator: EmulatorHandle, tmp_path: Path) -> None:
    manifest, folder = extract(emulator, tmp_path, "plain", cursor=LAST_MODIFIED)
    assert "keys" not in manifest and "tombstones" not in manifest
    assert not (folder / KEYS).exists() and not (folder / TOMBSTONES).exists()
    assert not any(r["path"].endswith("select=id") for r in emulator.recent_requests())


def test_a_select_without_id_is_refused_before_any_request(emulator: EmulatorHandle, tmp_path: Path) -> None:
    with pytest.raises(BusinessCentralQueryError, match="id"):
        ledger_spec(emulator, "no-id", tombstones=True, select=("quantity",))
    assert emulator.stats()["requests"] == {}


def test_the_operator_passes_tombstones_on(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
    operator = BusinessCentralToObjectStorageOperator(
        task_id="extract", destination=tmp_path.as_uri(), filter="entryNumber le 300", tombstones=True, run_name="op"
    )
    summary = operator.execute({"run_id": "manual__1"})
    manifest = json.loads(Path(summary["manifest"].removeprefix("file://")).read_text())
    assert manifest["keys"]["rows"] == len(
        {e for e, row in current_entries(emulator).items() if row["entryNumber"] <= 300}
    )
    assert manifest["tombstones"] is None

    refused = BusinessCentralToObjectStorageOperator(
        task_id="extract", destination=tmp_path.as_uri(), select="quantity", tombstones=True
    )
    with pytest.raises(AirflowFailException, match="select"):
        refused.execute({"run_id": "manual__2"})
