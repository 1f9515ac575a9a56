"""Crash safety, proven: an extraction killed with SIGKILL at each of its three dangerous points, in
each format, on a local disk and on S3 (moto's server), leaves no committed half run, and its
re-run (same spec, same run name) resumes from what was complete and holds every entry once.

The run is a real child process (``tests/extraction/crash_child.py``) that wraps the engine's own
functions to stand still at the kill point and say so (a marker file); the parent then kills it.
Where it stands is decided by what the run did, never by time:

- ``pages``: just after the checkpoint save that completed the 3rd file (mid partition, more to read);
- ``part``: just after the first page written into the 6th part file (a partition's second: its
  first page written and flushed, the file not closed, not in the checkpoint: a torn part);
- ``manifest``: when the run calls ``write_manifest`` (every part complete, no manifest yet).

The query is the seed (``entryNumber le 3000``) in 4 partitions of 750 entries (one stream, pages of
200, files of 400 rows): each partition is 4 pages (200, 200, 200, 150) in 2 files, 16 pages in all.

The same under each fault of ``tests.extraction.ledger.FAULTS`` (drops, a 429 storm with Retry-After,
a 503 burst, a token revoked), at the ``part`` point, in NDJSON, on a local disk: the fault strikes
both runs as their stream starts reading pages (the killed run's, in the child, once it has planned;
the re-run's, here), and the re-run still reads only the pages not covered at the kill.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_bc.extraction.run import Extraction, ExtractionSpec
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.extraction.conftest import BUCKET
from tests.extraction.ledger import FAULTS, STRUCK, clients_for, current_entries, struck_after_planning

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")

ROOT = Path(__file__).resolve().parents[2]
SEED = 3_000
PAGE_SIZE = 200
ROWS_PER_FILE = 400
#: pages of a full read of the query: 4 partitions of 750 entries, 4 pages each
FULL_READ_PAGES = 16
#: how long the child may take to start (imports) and reach its kill point
REACH_TIMEOUT = 120.0
#: the clients' retry budget under a fault: one stream's page read alone takes a whole 429 storm
RETRIES = 4


class KillPoint(NamedTuple):
    name: str
    #: which occurrence the child stops at (files complete, part file opened, manifest call)
    at: int
    #: the pages the re-run reads: those not covered by the files complete at the kill
    rereads: int


KILL_POINTS = (
    KillPoint("pages", at=3, rereads=FULL_READ_PAGES - 4 - 2),  # partition 0 whole, partition 1's first file
    KillPoint("part", at=6, rereads=FULL_READ_PAGES - 4 - 4 - 2),  # partitions 0 and 1, partition 2's first file
    KillPoint("manifest", at=1, rereads=0),
)


@pytest.fixture(scope="module")
def seed_ids(ledger_emulator: EmulatorHandle) -> list[str]:
    """The ids of the entries the query reads (the seed: nothing in this module changes them)."""
    return [i for i, row in current_entries(ledger_emulator).items() if row["entryNumber"] <= SEED]


@pytest.fixture(params=["local", "s3"])
def destination(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Where the run writes: ``url`` and ``conn_id`` (an Airflow connection in the environment,
    which the child inherits)."""
    if request.param == "local":
        return {"url": (tmp_path / "lake").as_uri(), "conn_id": None}
    conn = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": request.getfixturevalue("s3_endpoint"), "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CRASH_S3", json.dumps(conn))
    return {"url": f"s3://{BUCKET}/{tmp_path.name}", "conn_id": "crash_s3"}


def parent_emulator(emulator: EmulatorHandle) -> dict[str, Any]:
    """What the child attaches to ``emulator`` from: its connection details and state folder."""
    return {"info": emulator.info, "state_dir": str(emulator.state_dir)}


def kill_at(job: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Start the child on ``job``, wait for it to stand at its kill point, SIGKILL it; what it said there."""
    marker, log = tmp_path / "at-kill-point.json", tmp_path / "child.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "tests.extraction.crash_child", json.dumps({**job, "marker": str(marker)})]
    with log.open("wb") as output:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + REACH_TIMEOUT
        while not marker.exists():  # the child's own word that it stands at the point
            if child.poll() is not None:
                pytest.fail(f"the child ended ({child.returncode}) before its kill point:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the child did not reach its kill point in {REACH_TIMEOUT} s:\n{log.read_text()}")
            time.sleep(0.02)
        details: dict[str, Any] = json.loads(marker.read_text())
        assert details["pid"] == child.pid
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        return details
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def fresh(folder: ObjectStoragePath) -> ObjectStoragePath:
    """``folder``, with what this process's filesystem cached of listings dropped (another process wrote)."""
    folder.fs.invalidate_cache()
    return folder


def stored_matches(folder: ObjectStoragePath, entry: dict[str, Any]) -> bytes:
    """The bytes of the part file ``entry`` names, checked against its size and SHA-256."""
    data = (folder / entry["name"]).read_bytes()
    assert len(data) == entry["bytes"], f"{entry['name']}: {len(data)} bytes stored, {entry['bytes']} listed"
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{entry['name']}: another SHA-256 than listed"
    return data


def ids_in(data: bytes, output_format: str) -> list[str]:
    if output_format == "parquet":
        import pyarrow.parquet as pq

        return [str(i) for i in pq.read_table(io.BytesIO(data), columns=["id"]).column("id").to_pylist()]
    return [json.loads(line)["id"] for line in gzip.decompress(data).splitlines()]


def pages_of(files: list[dict[str, Any]]) -> int:
    """The pages the files were written from (a file closes on a page's end; only a partition's last
    page is short)."""
    return sum(math.ceil(f["rows"] / PAGE_SIZE) for f in files)


def entry_answers(emulator: EmulatorHandle) -> list[int]:
    """The statuses the emulator answered on the ``itemLedgerEntries`` route since it was last reset
    (a dropped request: 0)."""
    return [r["status"] for r in emulator.recent_requests() if r["route"] == "itemLedgerEntries"]


class Answers(NamedTuple):
    """The statuses answered to the requests for entries of the killed run and of its re-run."""

    killed: list[int]
    rerun: list[int]


def killed_then_rerun(
    emulator: EmulatorHandle,
    tmp_path: Path,
    destination: dict[str, Any],
    seed_ids: list[str],
    kill: KillPoint,
    output_format: str,
    fault: str | None = None,
) -> Answers:
    """Run the query in the child, SIGKILL it at ``kill`` and check what it left; re-run it here and check
    that it resumed and committed every entry once. ``fault`` (of ``FAULTS``) strikes each run once
    it has planned, as its stream starts reading pages."""
    spec_args: dict[str, Any] = {
        "entity_set": "itemLedgerEntries",
        "company_id": emulator.default_company_id,
        "run_name": f"crash-{kill.name}",
        "filter": f"entryNumber le {SEED}",
        "output_format": output_format,
        "page_size": PAGE_SIZE,
        "rows_per_file": ROWS_PER_FILE,
        "max_streams": 1,
    }
    settings = {"max_retries": RETRIES} if fault else {}
    job = {"point": kill.name, "at": kill.at, "emulator": parent_emulator(emulator), "settings": settings}
    details = kill_at({**job, "fault": fault, "spec": spec_args, "destination": destination}, tmp_path)
    killed = entry_answers(emulator)

    emulator.reset()  # what it counts from here is the re-run's
    assert emulator.stats()["max_in_flight"] == 0, "a request of the killed run was still being answered"
    extraction = Extraction(
        ExtractionSpec(**spec_args),
        ObjectStoragePath(destination["url"], conn_id=destination["conn_id"]),
        struck_after_planning(emulator, fault, **settings) if fault else clients_for(emulator),
    )
    folder = fresh(extraction.folder)

    # Killed: nothing committed, and what the checkpoint calls complete is stored whole.
    assert not (folder / "_manifest.json").exists(), "a killed run left a manifest"
    checkpoint = json.loads((folder / "_checkpoint.json").read_text())
    complete = [f for s in checkpoint["streams"] for f in s["files"]]
    for entry in complete:
        stored_matches(folder, entry)
    done = [s["done"] for s in checkpoint["streams"]]
    if kill.name == "pages":
        assert len(complete) == details["complete"] == kill.at and not all(done)
    elif kill.name == "part":
        torn = folder / details["torn"]
        assert details["torn"] not in {f["name"] for f in complete}
        assert 0 < details["rows"] < ROWS_PER_FILE
        if destination["conn_id"] is None:  # on a disk, the torn part is there, partly written
            assert torn.exists() and torn.stat().st_size > 0
        else:  # an object appears only once its upload completed
            assert not torn.exists()
    else:
        assert all(done) and len(complete) == details["files"]

    manifest = extraction.run()
    rerun = entry_answers(emulator)

    # Re-run: committed, every entry once, every file as listed, nothing else in the run folder.
    folder = fresh(folder)
    assert json.loads((folder / "_manifest.json").read_text()) == json.loads(json.dumps(manifest))
    listed = [f["name"] for f in manifest["files"]]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*listed, "_manifest.json"])
    ids: list[str] = []
    for entry in manifest["files"]:
        file_ids = ids_in(stored_matches(folder, entry), output_format)
        assert len(file_ids) == entry["rows"]
        ids.extend(file_ids)
    assert Counter(ids) == Counter(seed_ids), "an entry is missing or held twice"
    assert manifest["rows"] == len(seed_ids) == SEED
    if kill.name == "part":
        assert details["torn"] in listed  # rewritten whole

    # Resumed: the files complete at the kill kept as they were, only the rest read again.
    kept = {f["name"]: f for f in manifest["files"]}
    assert all(kept[f["name"]] == {**f, "stream": kept[f["name"]]["stream"]} for f in complete)
    assert pages_of(manifest["files"]) == FULL_READ_PAGES
    pages_read = rerun.count(200)
    assert pages_read == FULL_READ_PAGES - pages_of(complete) == kill.rereads, (
        f"the re-run read {pages_read} pages of entries, {FULL_READ_PAGES - pages_of(complete)} were left"
    )
    return Answers(killed, rerun)


@pytest.fixture
def crash(
    emulator: EmulatorHandle, tmp_path: Path, destination: dict[str, Any], seed_ids: list[str]
) -> Callable[..., Answers]:
    """:func:`killed_then_rerun` on this test's emulator, folder and destination: ``(kill, output_format,
    fault=None)``."""
    return functools.partial(killed_then_rerun, emulator, tmp_path, destination, seed_ids)


@pytest.mark.parametrize("output_format", ["ndjson", "parquet"])
@pytest.mark.parametrize("kill", KILL_POINTS, ids=[k.name for k in KILL_POINTS])
def test_a_run_killed_mid_way_commits_nothing_then_resumes_and_holds_every_entry_once(
    crash: Callable[..., Answers], kill: KillPoint, output_format: str
) -> None:
    answers = crash(kill, output_format)
    assert set(answers.rerun) <= {200}, f"the re-run was answered {Counter(answers.rerun)}"


@pytest.mark.parametrize("destination", ["local"], indirect=True)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_run_killed_under_a_fault_resumes_under_it_and_holds_every_entry_once(
    crash: Callable[..., Answers], fault: str
) -> None:
    (kill,) = (k for k in KILL_POINTS if k.name == "part")  # a torn part and complete files to keep
    answers = crash(kill, "ndjson", fault)
    for run, statuses in answers._asdict().items():
        if STRUCK[fault] is None:  # a dropped request is answered nothing
            assert statuses.count(200) < len(statuses), f"{fault} did not strike the {run} run: {Counter(statuses)}"
        else:
            assert STRUCK[fault] in statuses, f"{fault} did not strike the {run} run: {Counter(statuses)}"
