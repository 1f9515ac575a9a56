"""The ``counts`` strategy (``airflow_provider_bc.reconciliation.counts``) and the Business Central side it
counts and reads through (``airflow_provider_bc.reconciliation.business_central``), against the emulator and
a SQLite warehouse: which ranges differ, how many ``$batch`` requests the counting takes, how many reads go
at once, and which fields they select."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError
from airflow_provider_bc.client.thread_clients import ThreadClients
from airflow_provider_bc.reconciliation import counts as counts_strategy
from airflow_provider_bc.reconciliation.business_central import BusinessCentralSide
from airflow_provider_bc.reconciliation.counts import count_ranges, keys_in
from airflow_provider_bc.reconciliation.spec import build_spec
from airflow_provider_bc.reconciliation.warehouse import Dialect, Warehouse, WarehouseSource
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.faults.conftest import emulator_settings

ENTRIES = "itemLedgerEntries"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    """An emulator of this module's own: entries numbered 1 to 2,000, none posted by other tests."""
    with EmulatorHandle.start(entries=2000) as handle:
        yield handle


@pytest.fixture(scope="module")
def numbers(emulator: EmulatorHandle) -> list[int]:
    """Every entry number of the default company, in order."""
    client = BusinessCentralClient(emulator_settings(emulator))
    try:
        return [e["entryNumber"] for e in client.iter_entities(ENTRIES, select="entryNumber", orderby="entryNumber")]
    finally:
        client.close()


@pytest.fixture
def bc_emulator(emulator: EmulatorHandle, numbers: list[int]) -> EmulatorHandle:
    """The module's emulator, its counters and settings reset."""
    emulator.reset()
    return emulator


@pytest.fixture
def side(bc_emulator: EmulatorHandle) -> Iterator[BusinessCentralSide]:
    spec = build_spec(entity_set=ENTRIES, company_id=bc_emulator.default_company_id, strategy="counts", max_streams=3)
    clients = ThreadClients(lambda: BusinessCentralClient(emulator_settings(bc_emulator)))
    yield BusinessCentralSide(spec, clients)
    clients.close()


def warehouse_of(tmp_path: Path, keys: list[int]) -> Warehouse:
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE ledger (entry_no INTEGER)")
        connection.executemany("INSERT INTO ledger VALUES (?)", [(key,) for key in keys])
    source = WarehouseSource(table="ledger", columns={"entryNumber": "entry_no"})
    return Warehouse(source, Dialect(quote='"', placeholder="?"), lambda: sqlite3.connect(path))


def batches(emulator: Any) -> list[list[dict[str, Any]]]:
    return [record["operations"] for record in emulator.recent_requests() if record["route"] == "$batch"]


def test_only_the_ranges_holding_a_difference_are_left_each_level_one_batch(
    side: BusinessCentralSide, bc_emulator: Any, numbers: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts_strategy, "LEAF_WIDTH", 50)
    missing, doubled = numbers[10], numbers[1500]
    kept = [n for n in numbers if n != missing] + [doubled]
    warehouse = warehouse_of(tmp_path, kept)
    span = (min(numbers[0], kept[0]), max(numbers[-1], max(kept)))

    found = count_ranges(side, warehouse, span)

    assert (found.rows_business_central, found.rows_warehouse) == (len(numbers), len(kept))
    assert len(found.differing) == 2
    (low1, high1), (low2, high2) = found.differing
    assert low1 <= missing < high1 and low2 <= doubled < high2 and high1 - low1 <= 50 and high2 - low2 <= 50
    sent = batches(bc_emulator)
    # numbers 1 to 2,000: 40 ranges of 50 at once (one batch), nothing left to split
    assert [len(operations) for operations in sent] == [40]
    assert {operation["route"] for operation in sent[0]} == {ENTRIES}
    assert ENTRIES not in bc_emulator.stats()["requests"]  # no count asked alone
    keys = [row["entryNumber"] for row in keys_in(side, found.differing)]
    assert missing in keys and keys == sorted(keys) and all(low1 <= k < high1 or low2 <= k < high2 for k in keys)


def test_differing_ranges_are_split_and_more_than_100_ranges_go_in_several_batches(
    side: BusinessCentralSide, bc_emulator: Any, numbers: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts_strategy, "LEAF_WIDTH", 5)
    monkeypatch.setattr(counts_strategy, "FIRST_LEVEL", 250)
    missing = numbers[777]
    warehouse = warehouse_of(tmp_path, [n for n in numbers if n != missing])

    found = count_ranges(side, warehouse, (numbers[0], numbers[-1]))

    [(low, high)] = found.differing
    assert low <= missing < high and high - low <= 5
    sizes = [len(operations) for operations in batches(bc_emulator)]
    # level 1: 250 ranges of 8 numbers in batches of 100; level 2: the one that differs, split in 10
    assert sorted(sizes[:3]) == [50, 100, 100] and sizes[3:] == [8]
    assert side.requests == 4  # HTTP requests: the four $batch


def test_ranges_are_read_in_key_order_selecting_the_fields_at_most_max_streams_at_once(
    side: BusinessCentralSide, bc_emulator: Any, numbers: list[int]
) -> None:
    bc_emulator.configure(latency=0.05)  # answers that take a while: reads overlap
    ranges = [(numbers[i], numbers[i + 100]) for i in range(0, 1200, 100)]
    rows = list(side.rows_of_ranges(ranges, ["entryNumber"]))
    assert [row["entryNumber"] for row in rows] == numbers[:1200]
    assert all(set(row) <= {"entryNumber", "@odata.etag"} for row in rows)
    stats = bc_emulator.stats()
    assert sum(stats["requests"][ENTRIES].values()) == len(ranges)
    assert 1 < stats["max_in_flight"] <= 3


@pytest.mark.parametrize(
    "answered",
    [
        [{"entryNumber": 105}, {"entryNumber": 104}],  # out of order
        [{"entryNumber": 99}],  # below the range asked
        [{"entryNumber": 200}],  # at its end (excluded)
        [{"entryNumber": "150"}],  # not a number
        [{"quantity": 1}],  # no key
    ],
)
def test_an_answer_outside_the_range_or_out_of_order_is_a_bad_answer_not_a_difference(
    side: BusinessCentralSide, bc_emulator: Any, answered: list[dict[str, Any]]
) -> None:
    bc_emulator.add_fault("value", route=ENTRIES, path_contains="ge+100", value=answered, count=5)
    with pytest.raises(BusinessCentralBadAnswerError, match="outside the range asked or out of order"):
        side.read_range(100, 200, ["entryNumber"])
