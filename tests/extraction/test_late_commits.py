"""Incremental runs against entry numbers handed out as Business Central's SQL sequences do: a long
posting takes number N, shorter ones (after gaps) commit first, N becomes visible later stamped
earlier than they are. Every entry is delivered, each version once, across runs that overtake
each other; the manifest's settled mark never passes a number a posting still holds."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.extraction.cursors import CursorOptions, time_order_key
from airflow_provider_bc.extraction.run import Extraction
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.doc_blocks import blocks
from tests.extraction.ledger import (
    FAULTS,
    STRUCK,
    clients_for,
    current_entries,
    extract,
    interrupted,
    ledger_spec,
    ndjson_rows,
)

Clock = Callable[[], dt.datetime]
MINUTES = dt.timedelta(minutes=1)


def stamp(row: dict[str, Any]) -> str:
    """A row's ``lastModifiedDateTime`` as text that sorts as the time (BC trims fractions)."""
    return time_order_key(row["lastModifiedDateTime"], "lastModifiedDateTime")


def clock(offset: dt.timedelta = dt.timedelta(0)) -> Clock:
    """The worker's clock, ``offset`` ahead (a run planned that much later, for the same stamps)."""
    return lambda: dt.datetime.now(dt.timezone.utc) + offset


class Lake:
    """Runs of one extraction into ``root`` and what a consumer following the README reads of them."""

    def __init__(self, emulator: EmulatorHandle, root: Path, kind: str, **spec: Any) -> None:
        self.emulator, self.root, self.kind, self.spec = emulator, root, kind, spec
        self.manifests: list[dict[str, Any]] = []
        self.rows: list[dict[str, Any]] = []

    def run(
        self,
        name: str,
        now: Clock | None = None,
        clients: Callable[[], BusinessCentralClient] | None = None,
        **cursor: Any,
    ) -> dict[str, Any]:
        manifest, folder = extract(
            self.emulator,
            self.root,
            name,
            clients=clients,
            now=now or clock(),
            cursor=CursorOptions(kind=self.kind, **cursor),  # type: ignore[arg-type]
            **self.spec,
        )
        self.manifests.append(manifest)
        self.rows.extend(ndjson_rows(folder, manifest))
        return manifest

    def versions(self) -> Counter[tuple[str, str]]:
        """How often each (id, lastModifiedDateTime) was delivered over all runs."""
        return Counter((row["id"], row["lastModifiedDateTime"]) for row in self.rows)

    def newest(self) -> dict[str, dict[str, Any]]:
        """The consumer's view: the newest delivered version of each id."""
        view: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            kept = view.get(row["id"])
            if kept is None or stamp(row) >= stamp(kept):
                view[row["id"]] = row
        return view


@pytest.mark.parametrize("kind", ["entry_number", "last_modified"])
def test_a_long_posting_committed_after_shorter_ones_is_delivered_once(
    emulator: EmulatorHandle, tmp_path: Path, kind: str
) -> None:
    lake = Lake(emulator, tmp_path, kind, page_size=1_000)
    lake.run("first")
    (long,) = emulator.reserve_entries(fields={"description": "long posting"})
    gap = emulator.skip_entry_numbers(2)
    short = [emulator.insert_entry(description=f"short {i}") for i in range(3)]
    assert [e["entryNumber"] for e in short] == [long["entryNumber"] + 3 + i for i in range(3)]
    assert list(gap) == [long["entryNumber"] + 1, long["entryNumber"] + 2]

    # six minutes into the long posting: longer than the 5 minutes of overlap this provider had
    second = lake.run("second", now=clock(6 * MINUTES))
    assert {e["id"] for e in short} <= {row["id"] for row in lake.rows}
    if kind == "entry_number":
        assert second["cursor"]["settled"] < long["entryNumber"], "settled past a number a posting holds"
        assert second["cursor"]["open"]["through"] == short[-1]["entryNumber"]

    committed = emulator.commit_entries([long["id"]])
    assert stamp(committed[0]) < stamp(short[0])  # stamped at its insert
    third = lake.run("third", now=clock(7 * MINUTES))

    assert long["id"] in {row["id"] for row in lake.rows}, "the long posting's entry is in no manifest"
    assert max(lake.versions().values()) == 1, "a version was delivered twice"
    assert lake.newest() == current_entries(emulator)

    # once the commit lag has passed, the mark settles above everything, gaps included
    settled = lake.run("fourth", now=clock(20 * MINUTES))
    if kind == "entry_number":
        assert settled["cursor"]["settled"] == short[-1]["entryNumber"] and settled["cursor"]["open_rows"] == []
    assert settled["rows"] == 0 and max(lake.versions().values()) == 1
    assert settled["rows_read"] >= len(third["cursor"]["open_rows"]) > 0  # the open range, read again


def test_a_rolled_back_posting_leaves_a_gap_the_settled_mark_passes_once_old_enough(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    lake = Lake(emulator, tmp_path, "entry_number", page_size=1_000)
    lake.run("first")
    (doomed,) = emulator.reserve_entries()
    after = emulator.insert_entry(description="after the rolled-back one")
    held = lake.run("second")
    assert held["cursor"]["settled"] < doomed["entryNumber"]
    emulator.rollback_entries([doomed["id"]])
    moved = lake.run("third", now=clock(20 * MINUTES))
    assert moved["cursor"]["settled"] == after["entryNumber"] and moved["rows"] == 0
    assert doomed["id"] not in {row["id"] for row in lake.rows} and lake.newest() == current_entries(emulator)


def test_a_resumed_run_that_another_run_overtook_plans_again_from_the_newer_one(
    emulator: EmulatorHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="airflow_provider_bc.extraction")
    lake = Lake(emulator, tmp_path, "entry_number", page_size=300, rows_per_file=300, max_streams=1)
    lake.run("base", start=2_000, now=clock(20 * MINUTES))
    appended = [emulator.insert_entry(description=f"appended {i}") for i in range(700)]

    options = {"page_size": 300, "rows_per_file": 300, "max_streams": 1}
    spec = ledger_spec(emulator, "killed", cursor=CursorOptions(kind="entry_number"), **options)
    destination = interrupted(emulator, tmp_path, spec, pages=2)
    emulator.reset()
    overtaking = lake.run("overtaking", now=clock(20 * MINUTES))
    assert overtaking["rows"] >= len(appended)

    resumed = Extraction(spec, destination, clients_for(emulator)).run()
    assert resumed["based_on"] == "overtaking" and resumed["rows"] == 0, "rows the later run committed, again"
    assert "overtaking has committed since: planning it again" in caplog.text
    assert not [p for p in (tmp_path / "itemLedgerEntries").rglob("killed/part-*")]

    latest = emulator.insert_entry(description="after all of them")
    following = lake.run("following")
    assert following["based_on"] in {"overtaking", "killed"}
    assert following["cursor"]["from"] == max(overtaking["cursor"]["settled"], resumed["cursor"]["settled"])
    assert [row["id"] for row in lake.rows].count(latest["id"]) == 1
    assert max(lake.versions().values()) == 1


def test_the_readme_consumer_reads_every_entry_once_in_its_newest_version(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    namespace: dict[str, Any] = {}
    exec(blocks("consumer")[0], namespace)
    lake = Lake(emulator, tmp_path, "entry_number", page_size=1_000)
    first = lake.run("first")
    (long,) = emulator.reserve_entries()
    short = emulator.insert_entry(description="committed first")
    plain = emulator.insert_entry(description="delivered by the second run, unchanged since")
    lake.run("second")
    emulator.commit_entries([long["id"]])
    changed = emulator.modify_entry(None, short["id"], description="changed after delivery")
    lake.run("third", start=first["cursor"]["settled"])  # an explicit start: repeats what the open range held
    assert lake.versions()[(plain["id"], plain["lastModifiedDateTime"])] == 2, "the repeat the consumer drops"

    company = tmp_path / "itemLedgerEntries" / f"company={emulator.default_company_id}"
    read = namespace["read_series"](company, first["series"])
    current = current_entries(emulator)
    assert {i: row["lastModifiedDateTime"] for i, row in read.items()} == {
        i: row["lastModifiedDateTime"] for i, row in current.items()
    }
    assert read[short["id"]]["description"] == changed["description"] and long["id"] in read


@pytest.mark.parametrize("fault", list(FAULTS))
def test_late_commits_are_delivered_once_through_faults_in_every_run(
    emulator: EmulatorHandle, tmp_path: Path, fault: str
) -> None:
    lake = Lake(emulator, tmp_path, "entry_number", page_size=500, max_streams=3)

    def run(name: str, offset: dt.timedelta = dt.timedelta(0)) -> dict[str, Any]:
        emulator.reset()
        manifest = lake.run(name, now=clock(offset), clients=FAULTS[fault](emulator))
        answers = [r["status"] for r in emulator.recent_requests() if r["route"] == "itemLedgerEntries"]
        if STRUCK[fault] is not None:
            assert STRUCK[fault] in answers, f"{fault} did not strike run {name}"
        return manifest

    run("first")
    (long,) = emulator.reserve_entries()
    emulator.skip_entry_numbers(2)
    short = [emulator.insert_entry(description=f"short {i}") for i in range(3)]
    run("second", 6 * MINUTES)
    emulator.commit_entries([long["id"]])
    run("third", 7 * MINUTES)
    delivered = Counter(row["id"] for row in lake.rows)
    assert delivered[long["id"]] == 1 and all(delivered[e["id"]] == 1 for e in short)
    assert max(lake.versions().values()) == 1 and lake.newest() == current_entries(emulator)
