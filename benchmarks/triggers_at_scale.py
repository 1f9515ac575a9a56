"""500 deferred sensors in one triggerer: their triggers on one event loop against the emulator.

``--triggers`` (default 500) ``BusinessCentralEntityTrigger`` instances wait for an item ledger entry
each, by id, every ``--poll-interval`` seconds (default 10), all on one event loop, each ``run()``
iterated as the triggerer does. A thread posts the entries through the emulator's control API, one by
one, spread over ``--seconds`` (default 60), in random order. The emulator is a subprocess adding
``--latency`` seconds (default 0.2) to every API request.

    python benchmarks/triggers_at_scale.py [--triggers 500] [--seconds 60] [--poll-interval 10]
                                           [--latency 0.2] [--gc-freeze]

Before the measured run, one trigger runs through a client of its own (what a triggerer has done
before: the imports of first use; its slowest step is printed, not counted). Garbage collections are
timed apart: a full collection walks Airflow's ~170,000 start-up objects (about 200 ms on 2 cores) in
whichever step allocates at the time, whatever the triggers do, so a step's own time excludes the
collections inside it, and the longest collection is its own figure (``gc_max_ms``). ``--gc-freeze``
freezes the start-up objects first (``gc.freeze()``, as Airflow's DAG processor and local executor do;
a stock triggerer does not), which takes that pause away.

Measured: how many fired (found their entry), token requests the emulator answered (one expected:
one MSAL application, one cached token), the emulator's highest number of API requests in flight at
once (arrival to last byte, queued ones too; at most 5, the governor's limit), the slowest event-loop
step (each callback the loop runs, timed, less the garbage collections inside it; at most 100 ms;
beside it: the step with its collections, and the longest a 5 ms sleep overslept, the loop held by one
step or a run of them), API requests per check cycle (a cycle: one
check of every trigger still waiting; as many cycles as the last trigger to fire made checks), against
checks per cycle (the requests of one GET per check), and the process's peak RSS. Ends with
``RESULT fired=<n> token_requests=<n> max_in_flight=<n> slowest_step_ms=<x> requests_per_cycle=<x> rss_mb=<x>
gc_max_ms=<x>``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

# each trigger logs each check at INFO (a triggerer writes that to the task's log), not to this terminal
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

from airflow_provider_bc.testing.airflow_runs import prepare_airflow_home
from airflow_provider_bc.testing.emulator import EmulatorHandle

LAG_PROBE = 0.005  # seconds the loop-lag monitor sleeps between looks
TARGET_STEP_MS, TARGET_IN_FLIGHT = 100.0, 5


class LoopLag:
    """The longest a short sleep overslept on the running loop: how long the loop was held at most
    (by one step, or by a run of steps in one iteration)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.when = 0.0  # seconds after the watch began

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_PROBE)
            if (lag := loop.time() - start - LAG_PROBE) > self.worst:
                self.worst, self.when = lag, start - began


class StepTimer:
    """The longest single step of the event loop: each callback it runs (a task's step, a timer, a
    future's callback: ``asyncio.Handle._run``) timed while installed, without the garbage collections
    in it (``worst``) and with them (``worst_with_gc``)."""

    def __init__(self, collections: Collections) -> None:
        self.worst = self.worst_with_gc = 0.0
        self.what = ""
        self._collections = collections

    @contextmanager
    def installed(self) -> Iterator[StepTimer]:
        run = asyncio.Handle._run

        def timed(handle: asyncio.Handle) -> None:
            begin, collecting = time.perf_counter(), self._collections.total
            run(handle)
            took = time.perf_counter() - begin
            self.worst_with_gc = max(self.worst_with_gc, took)
            if (own := took - (self._collections.total - collecting)) > self.worst:
                self.worst, self.what = own, repr(handle)[:160]

        asyncio.Handle._run = timed  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            asyncio.Handle._run = run  # type: ignore[method-assign]


class Collections:
    """Garbage collections while installed: how many, all their seconds, and the longest (seconds, generation)."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.longest = (0.0, 0)
        self._began = 0.0

    def _timed(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        took = time.perf_counter() - self._began
        self.count += 1
        self.total += took
        self.longest = max(self.longest, (took, info["generation"]))

    @contextmanager
    def installed(self) -> Iterator[Collections]:
        gc.callbacks.append(self._timed)
        try:
            yield self
        finally:
            gc.callbacks.remove(self._timed)


def post_entries(emulator: EmulatorHandle, ids: list[str], seconds: float, stop: threading.Event) -> None:
    """Post one entry per id through the control API (this thread's own blocking calls), spread over ``seconds``."""
    begin = time.monotonic()
    for index, entity_id in enumerate(ids):
        if stop.wait(max(0.0, begin + seconds * index / len(ids) - time.monotonic())):
            return
        emulator.insert_entry(id=entity_id)
    print(f"  the last entry posted after {time.monotonic() - begin:.1f} s", flush=True)


async def fire(trigger: Any) -> dict[str, Any]:
    """Iterate ``trigger.run()`` to its end, as the triggerer does; its (one) event."""
    events = [dict(event.payload) async for event in trigger.run()]
    assert len(events) == 1, events
    return events[0]


async def run_all(triggers: list[Any], lag: LoopLag) -> list[dict[str, Any]]:
    """Every trigger on this loop, with the loop-lag monitor beside them; their events."""
    monitor = asyncio.create_task(lag.watch())
    try:
        return await asyncio.gather(*(fire(trigger) for trigger in triggers))
    finally:
        monitor.cancel()


def waiting_for(entity_id: str, conn_id: str, poll_interval: float, timeout: float) -> Any:
    """A trigger as a deferred sensor hands it over: the entry ``entity_id``, checked every ``poll_interval`` s."""
    from airflow_provider_bc.client.odata.lookup import Lookup
    from airflow_provider_bc.triggers.business_central import BusinessCentralEntityTrigger

    lookup = Lookup.build("itemLedgerEntries", entity_id=entity_id)
    return BusinessCentralEntityTrigger.waiting_for(
        lookup, business_central_conn_id=conn_id, poll_interval=poll_interval, timeout=timeout
    )


def warm_up(emulator: EmulatorHandle) -> StepTimer:
    """What a triggerer has done before: run a trigger (the imports of first use). Through a client of its
    own (its own token), then the emulator's counters are reset; the slowest step of that run."""
    conn = emulator.airflow_connection()
    conn["login"], conn["password"] = emulator.register_client()
    os.environ["AIRFLOW_CONN_BC_WARM_UP"] = json.dumps(conn)
    collections = Collections()
    steps = StepTimer(collections)
    with steps.installed(), collections.installed():
        (event,) = asyncio.run(run_all([waiting_for(emulator.documented_entry_id, "bc_warm_up", 1, 60)], LoopLag()))
    assert event["status"] == "success", event
    emulator.reset()
    return steps


def checks_by_id(emulator: EmulatorHandle) -> Counter[str]:
    """How many times each id was asked for, alone or inside a ``$batch`` (from the recent log)."""
    asked: Counter[str] = Counter()
    for record in emulator.recent_requests():
        for operation in record["operations"] or ([record] if record["route"] == "itemLedgerEntry" else []):
            asked[unquote(operation["path"]).split("itemLedgerEntries(")[1].split(")")[0]] += 1
    return asked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triggers", type=int, default=500, help="triggers waiting, one entry each")
    parser.add_argument("--seconds", type=float, default=60.0, help="the entries are posted over this long")
    parser.add_argument("--poll-interval", type=float, default=10.0, help="each trigger's seconds between checks")
    parser.add_argument("--latency", type=float, default=0.2, help="emulator seconds added per API request")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() the start-up objects first")
    args = parser.parse_args()

    prepare_airflow_home(Path(tempfile.mkdtemp(prefix="bc-bench-airflow-")), Path(tempfile.mkdtemp()))
    print(
        f"{args.triggers} triggers on one event loop, entries posted over {args.seconds:.0f} s, checks every "
        f"{args.poll_interval:g} s, emulator latency {args.latency} s; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with EmulatorHandle.start(entries=1_000, latency=args.latency) as emulator:
        os.environ["AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT"] = emulator.airflow_connection_env()
        first_use = warm_up(emulator)
        if args.gc_freeze:
            gc.freeze()
        ids = [str(uuid.uuid4()) for _ in range(args.triggers)]
        timeout = args.seconds + 10 * args.poll_interval + 60
        conn_id = "business_central_default"
        triggers = [waiting_for(entity_id, conn_id, args.poll_interval, timeout) for entity_id in ids]
        stop = threading.Event()
        posting = random.Random(42).sample(ids, len(ids))
        poster = threading.Thread(target=post_entries, args=(emulator, posting, args.seconds, stop))
        lag, collections = LoopLag(), Collections()
        steps = StepTimer(collections)
        begin = time.perf_counter()
        poster.start()
        try:
            with steps.installed(), collections.installed():
                events = asyncio.run(run_all(triggers, lag))
        finally:
            stop.set()
            poster.join()
        seconds = time.perf_counter() - begin
        stats = emulator.stats()
        asked = checks_by_id(emulator)

    fired = sum(
        event["status"] == "success" and event["records"][0]["id"] == entity_id
        for event, entity_id in zip(events, ids, strict=True)
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    token_requests = sum(stats["requests"].get("token", {}).values())
    api = {route: sum(counts.values()) for route, counts in stats["requests"].items()}
    api = {route: count for route, count in api.items() if route not in ("token", "discovery")}
    cycles = max(asked.values())
    checks = sum(asked.values())
    requests_per_cycle = sum(api.values()) / cycles
    slowest_ms = steps.worst * 1000
    print(f"  {fired} of {len(ids)} fired in {seconds:.1f} s; statuses {Counter(e['status'] for e in events)}")
    print(f"  API requests {api}, {checks} checks in {cycles} cycles; {token_requests} token request(s)")
    print(
        f"  requests per cycle {requests_per_cycle:.1f}, against {checks / cycles:.1f} checks per cycle (one GET "
        f"each: {len(ids)} in the first)"
    )
    print(
        f"  emulator: at most {stats['max_in_flight']} API requests in flight (target <= {TARGET_IN_FLIGHT}), "
        f"{stats['max_concurrency']} processed at once"
    )
    print(f"  before: a first trigger in the process (first-use imports), slowest step {first_use.worst * 1000:.1f} ms")
    print(
        f"  slowest event-loop step {slowest_ms:.1f} ms without garbage collections (target <= {TARGET_STEP_MS:.0f}), "
        f"{steps.worst_with_gc * 1000:.1f} ms with them: {steps.what}"
    )
    pause, generation = collections.longest
    print(
        f"  longest the loop was held (a 5 ms sleep's overshoot) {lag.worst * 1000:.1f} ms, {lag.when:.1f} s after "
        f"the triggers started; {collections.count} "
        f"garbage collections (start-up objects {'frozen' if args.gc_freeze else 'not frozen'}), the longest "
        f"{pause * 1000:.1f} ms (generation {generation}); peak RSS {rss_mb:.0f} MB"
    )
    print(
        f"RESULT fired={fired} token_requests={token_requests} max_in_flight={stats['max_in_flight']} "
        f"slowest_step_ms={slowest_ms:.1f} requests_per_cycle={requests_per_cycle:.1f} rss_mb={rss_mb:.0f} "
        f"gc_max_ms={pause * 1000:.1f}"
    )


if __name__ == "__main__":
    main()
