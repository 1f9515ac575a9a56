"""DAG runs started by posted entries, on a real Airflow 3.3: the API server, scheduler, DAG processor and
triggerer as processes (:mod:`airflow_provider_bc.testing.airflow_processes`; LocalExecutor, SQLite
metadata DB, a temporary ``AIRFLOW_HOME``), the DAG folder holding ``dags_examples/bc_extract_posted_entries.py``
(its watcher polling every 2 s, through ``BC_POLL_INTERVAL``), against an emulator of this module's own.

Its consumer DAG records each run's events: ``signalled_range`` returns their payloads (XCom) and the
range it extracts, and ``extract`` writes that range to a lake of the test. What is checked, from the
metadata DB (``asset_event``, ``dagrun_asset_event``, ``dag_run``, ``xcom``, ``asset_state_store``) and
the emulator's request log: posted entries start a run whose events cover exactly them, promptly; a quiet
company starts nothing; a triggerer killed (SIGKILL) and started again loses no entry and signals no two
different events over the same entries (a range signalled again has the same key and range: counted and
printed); a late commit is signalled once committed, not before. One Airflow for the module.
"""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from airflow_provider_bc.testing.airflow_processes import (
    Services,
    airflow_cli,
    airflow_env,
    database_url,
    free_port,
    patient_query,
    start_airflow,
    start_triggerer,
    task_errors,
    task_instance_states,
    wait_for,
)
from airflow_provider_bc.testing.emulator import EmulatorHandle
from airflow_provider_bc.triggers.watermark_store import STATE_KEY
from tests.secret_scan import SecretScanner
from tests.support import EXAMPLE_DAGS

airflow_version = pytest.importorskip("airflow.version").version
if tuple(int(part) for part in airflow_version.split(".")[:2]) < (3, 3):
    pytest.skip("the asset state store and shared streams need Airflow 3.3", allow_module_level=True)

DAG_FILE = EXAMPLE_DAGS / "bc_extract_posted_entries.py"
DAG_ID = "bc_extract_posted_entries"
ENTITY_SET = "itemLedgerEntries"
POLL = 2.0
#: how long a posting may take to start a run: a poll, then the scheduler (the issue's bound)
RUN_START_BOUND = POLL + 10
#: waits for what should come (generous: 2 cores run all of Airflow here)
TIMEOUT = 60.0


@dataclass(frozen=True)
class Event:
    """An asset event of the watched asset: its row id and the trigger's payload."""

    id: int
    payload: dict[str, Any]

    @property
    def range(self) -> tuple[int, int]:
        return int(self.payload["from"]), int(self.payload["to"])

    @property
    def key(self) -> str:
        return str(self.payload["idempotency_key"])

    def covers(self, number: int) -> bool:
        low, high = self.range
        return low < number <= high


@dataclass
class Deployment:
    """The running Airflow and the emulator it watches."""

    services: Services
    env: dict[str, str]
    emulator: EmulatorHandle
    lake: Path
    asset: str
    posted: list[int] = field(default_factory=list)

    @property
    def database(self) -> str:
        return database_url(self.env)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        return patient_query(self.database, sql, **params)

    def events(self, after: int = 0) -> list[Event]:
        """The watched asset's events with an id above ``after``, oldest first."""
        sql = (
            "SELECT e.id, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.name = :name AND e.id > :after ORDER BY e.id"
        )
        found = []
        for event_id, extra in self.rows(sql, name=self.asset, after=after):
            extra = json.loads(extra) if isinstance(extra, str) else extra
            assert extra.get("from_trigger") is True, extra
            found.append(Event(int(event_id), dict(extra["payload"])))
        return found

    def last_event_id(self) -> int:
        return max((event.id for event in self.events()), default=0)

    def runs(self) -> dict[str, dict[str, Any]]:
        """The consumer DAG's runs by run id: state, type, started or not, the ids of the events it consumed."""
        sql = (
            "SELECT r.run_id, r.state, r.run_type, r.start_date, r.id, x.event_id FROM dag_run r "
            "LEFT JOIN dagrun_asset_event x ON x.dag_run_id = r.id WHERE r.dag_id = :dag_id ORDER BY r.id"
        )
        runs: dict[str, dict[str, Any]] = {}
        for run_id, state, run_type, start_date, row_id, event_id in self.rows(sql, dag_id=DAG_ID):
            run = runs.setdefault(
                run_id, {"state": state, "type": run_type, "started": start_date is not None, "id": row_id}
            )
            run.setdefault("events", set())
            if event_id is not None:
                run["events"].add(int(event_id))
        return runs

    def queued_asset_runs(self) -> int:
        """Rows of the asset DAG run queue: events whose run the scheduler has not created yet."""
        return int(self.rows("SELECT COUNT(*) FROM asset_dag_run_queue")[0][0])

    def state(self) -> Any:
        """The watcher's watermark and pending events in the asset state store (``None``: none stored)."""
        sql = (
            "SELECT s.value FROM asset_state_store s JOIN asset a ON a.id = s.asset_id "
            "WHERE a.name = :name AND s.key = :key"
        )
        found = self.rows(sql, name=self.asset, key=STATE_KEY)
        return json.loads(found[0][0]) if found else None

    def xcom(self, run_id: str, task_id: str) -> Any:
        sql = (
            "SELECT value FROM xcom WHERE dag_id = :dag_id AND run_id = :run_id AND task_id = :task_id "
            "AND key = 'return_value'"
        )
        found = self.rows(sql, dag_id=DAG_ID, run_id=run_id, task_id=task_id)
        if not found:
            return None
        value = found[0][0]
        return json.loads(value) if isinstance(value, str | bytes) else value

    def extracted(self, run_name: str) -> list[int]:
        """The entry numbers of the rows the files of run folder ``run_name`` hold (as its manifest lists them)."""
        folder = self.lake / ENTITY_SET / f"company={self.emulator.default_company_id}" / run_name
        manifest = json.loads((folder / "_manifest.json").read_text())
        assert manifest["run"] == run_name
        numbers = []
        for listed in manifest["files"]:
            with gzip.open(folder / listed["name"], "rt") as rows:
                numbers += [int(json.loads(line)["entryNumber"]) for line in rows if line.strip()]
        return sorted(numbers)

    def probes(self) -> int:
        """The watcher's polls the emulator answered so far (its ``$top=1`` probes of the highest entry
        number), from the emulator's log of recent requests."""
        paths = [unquote_plus(r["path"]) for r in self.emulator.recent_requests() if r["route"] == ENTITY_SET]
        return sum(
            path.endswith("?$select=entryNumber&$orderby=entryNumber desc")  # no $filter, no next page
            for path in paths
        )

    def wait_for_polls(self, count: int) -> float:
        """Wait until the watcher polled ``count`` more times; the seconds waited."""
        until = self.probes() + count
        return wait_for(f"{count} polls", lambda: self.probes() >= until, self.services, TIMEOUT)

    def post(self, count: int) -> list[int]:
        """``count`` entries posted now; their numbers."""
        numbers = [int(self.emulator.insert_entry()["entryNumber"]) for _ in range(count)]
        self.posted += numbers
        return numbers

    def wait_until_signalled(self, numbers: list[int], after: int = 0) -> list[Event]:
        """Wait until every one of ``numbers`` is inside an event (id above ``after``); those events."""

        def covered() -> bool:
            events = self.events(after)
            return all(any(event.covers(number) for event in events) for number in numbers)

        wait_for(f"events covering {numbers}", covered, self.services, TIMEOUT)
        return self.events(after)

    def wait_until_runs_done(self) -> dict[str, dict[str, Any]]:
        """Wait until every event has its run and every run ended; the runs (each must have succeeded)."""

        def done() -> bool:
            runs = self.runs()
            return self.queued_asset_runs() == 0 and all(r["state"] in ("success", "failed") for r in runs.values())

        wait_for("the runs to end", done, self.services, 2 * TIMEOUT)
        runs = self.runs()
        failed = {
            run_id: (
                task_instance_states(self.database, DAG_ID, run_id),
                task_errors(Path(self.env["AIRFLOW_HOME"]), DAG_ID, run_id),
            )
            for run_id, run in runs.items()
            if run["state"] != "success"
        }
        assert not failed, failed
        return runs


@pytest.fixture(scope="module")
def emulator(secret_scanner: SecretScanner) -> Iterator[EmulatorHandle]:
    """An emulator of this module's own: its postings are the only ones the watcher sees."""
    with EmulatorHandle.start(entries=500) as handle:
        secret_scanner.add_secret("client secret", handle.client_secret)
        yield handle
        for token in handle.issued_tokens():
            secret_scanner.add_secret("access token issued by the emulator", token)


@pytest.fixture(scope="module")
def deployment(emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Airflow 3.3 running the example DAG, its watcher polling the emulator every 2 s, unpaused from
    its first parse (a paused DAG's asset has no watcher)."""
    scratch = tmp_path_factory.mktemp("event-driven")
    dags, lake = scratch / "dags", scratch / "lake"
    dags.mkdir()
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)
    company = str(emulator.default_company_id)
    env = airflow_env(
        scratch / "airflow",
        dags,
        api_port=free_port(),
        executor="LocalExecutor",
        paused_at_creation=False,
        connections={"business_central_default": emulator.airflow_connection_env()},
        settings={
            "BC_COMPANY_ID": company,
            "BC_POLL_INTERVAL": str(POLL),
            "BC_LAKE": lake.as_uri(),
            "AIRFLOW__CORE__PARALLELISM": "4",
            # a killed triggerer's watchers move to a live one once its heartbeat is this old
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        },
    )
    services = Services(scratch / "logs")
    found = Deployment(services, env, emulator, lake, f"business_central://{company}/{ENTITY_SET}")
    try:
        airflow_cli(env, "db", "migrate")
        start_airflow(services, env, dag_ids=[DAG_ID], triggerer=True, report=print)
        # the watcher is registered (the DAG unpaused) and polling
        wait_for("the watcher's first poll", lambda: found.probes() > 0, services, 2 * TIMEOUT)
        yield found
    except BaseException:
        services.show_logs()
        raise
    finally:
        services.stop()


def _union(events: list[Event]) -> tuple[int, int]:
    return min(e.range[0] for e in events), max(e.range[1] for e in events)


def test_posted_entries_start_a_run_whose_events_cover_exactly_them(deployment: Deployment) -> None:
    before = deployment.last_event_id()
    numbers = deployment.post(3)
    posted_at = time.monotonic()

    def started_run() -> dict[str, Any] | None:
        """The started run that consumed the event holding the last entry posted."""
        events = {e.id: e for e in deployment.events(before)}
        for run in deployment.runs().values():
            if run["started"] and any(events[i].covers(numbers[-1]) for i in run["events"] if i in events):
                return run
        return None

    waited = wait_for("a run started by the posting", started_run, deployment.services, TIMEOUT)
    print(f"posted {numbers}: a run started {time.monotonic() - posted_at:.1f} s later")
    assert waited <= RUN_START_BOUND, f"the run started {waited:.1f} s after the posting"

    events = deployment.events(before)
    assert _union(events) == (numbers[0] - 1, numbers[-1])  # exactly the posted entries, in adjoining ranges
    ordered = sorted({e.range for e in events})
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ordered))
    assert sum(e.payload["count"] for e in {e.key: e for e in events}.values()) == 3

    # the run recorded its events, and extracted exactly their range
    runs = deployment.wait_until_runs_done()
    for run_id, run in runs.items():
        consumed = [e for e in events if e.id in run["events"]]
        if not consumed:
            continue
        recorded = deployment.xcom(run_id, "signalled_range")
        assert sorted(recorded["events"], key=lambda p: p["to"]) == sorted(
            (e.payload for e in consumed), key=lambda p: p["to"]
        )
        low, high = _union(consumed)
        assert (recorded["from"], recorded["to"]) == (low, high)
        assert recorded["filter"] == f"entryNumber gt {low} and entryNumber le {high}"
        assert deployment.extracted(f"entries-{low}-{high}") == [n for n in numbers if low < n <= high]


def test_a_quiet_company_starts_no_run(deployment: Deployment) -> None:
    deployment.wait_until_runs_done()
    last_event, runs = deployment.last_event_id(), set(deployment.runs())
    waited = deployment.wait_for_polls(4)  # three whole poll intervals between the first and the last
    print(f"4 polls (3 intervals) without a posting in {waited:.1f} s: no event, no run")
    assert deployment.last_event_id() == last_event
    assert set(deployment.runs()) == runs
    assert deployment.queued_asset_runs() == 0


def test_a_killed_triggerer_loses_no_entry_and_repeats_a_range_only_with_its_key(deployment: Deployment) -> None:
    before = deployment.last_event_id()
    services = deployment.services

    # posted, signalled, and the triggerer killed at once: before its next poll confirms the event
    first = deployment.post(2)
    deployment.wait_until_signalled(first, before)
    code = services.kill("triggerer", signal.SIGKILL)
    assert code == -signal.SIGKILL
    while_down = deployment.post(2)
    job = start_triggerer(services, deployment.env)
    print(f"triggerer killed after {first} were signalled; {while_down} posted while down; job {job} started")
    polls = deployment.probes()
    wait_for("the restarted watcher's first poll", lambda: deployment.probes() > polls, services, TIMEOUT)
    after_restart = deployment.post(2)

    posted = first + while_down + after_restart
    events = deployment.wait_until_signalled(posted, before)
    # every posted entry is inside an event; different events never overlap; a repeat is the same range
    by_key: dict[str, list[Event]] = {}
    for event in events:
        by_key.setdefault(event.key, []).append(event)
    assert all(len({e.range for e in same}) == 1 for same in by_key.values()), by_key
    ranges = sorted(same[0].range for same in by_key.values())
    overlapping = [(a, b) for a, b in itertools.pairwise(ranges) if b[0] < a[1]]
    assert not overlapping, overlapping
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges)), ranges  # adjoining
    assert ranges[0][0] < posted[0] and ranges[-1][1] >= posted[-1]
    repeats = {key: len(same) for key, same in by_key.items() if len(same) > 1}
    print(
        f"after the kill: {len(events)} events, {len(by_key)} ranges {ranges}; exact repeats (same key, same "
        f"range): {sum(n - 1 for n in repeats.values())} {repeats}"
    )

    # the watermark stored is the last range's end, confirmed (nothing pending) one poll after it
    last = ranges[-1][1]
    wait_for(
        "the watermark confirmed",
        lambda: deployment.state() == {"through": last, "pending": []},
        services,
        TIMEOUT,
    )

    # the repeats' runs found their folder complete; every run succeeded
    deployment.wait_until_runs_done()


def test_a_late_commit_is_signalled_once_committed_and_not_before(deployment: Deployment) -> None:
    before = deployment.last_event_id()
    (held,) = deployment.emulator.reserve_entries(1)  # a posting open: its number taken, not visible
    late = int(held["entryNumber"])
    after = deployment.post(1)
    assert after == [late + 1]
    waited = deployment.wait_for_polls(3)
    signalled = deployment.events(before)
    assert not [e for e in signalled if e.range[1] >= late], signalled  # neither, while the posting is open
    print(f"entry {late} held and {late + 1} visible: no event in 3 polls ({waited:.1f} s)")

    deployment.emulator.commit_entries([held["id"]])
    deployment.posted.append(late)
    events = deployment.wait_until_signalled([late, late + 1], before)
    assert any(e.covers(late) for e in events)

    # every run of the module extracted exactly the posted entries of its events' range
    runs = deployment.wait_until_runs_done()
    for run_id, run in runs.items():
        recorded = deployment.xcom(run_id, "signalled_range")
        assert sorted(p["idempotency_key"] for p in recorded["events"]) == sorted(
            e.key for e in deployment.events() if e.id in run["events"]
        )
        low, high = recorded["from"], recorded["to"]
        assert deployment.extracted(recorded["run_name"]) == sorted(n for n in deployment.posted if low < n <= high)
    print(f"{len(runs)} runs, each extracted exactly its range")
