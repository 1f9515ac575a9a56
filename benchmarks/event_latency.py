"""How long after a posting 50 asset watchers of the same entity set get their event, sharing one poll.

One event loop stands for the triggerer: Airflow's own ``SharedStreamManager`` (the component the
triggerer routes event triggers through) and ``--watchers`` (default 50)
``BusinessCentralNewEntitiesTrigger`` instances of the same company and entity set
(``itemLedgerEntries``, watermark ``entryNumber``, ``poll_interval`` ``--poll-interval``, default 5 s),
each built as the triggerer builds it (serialized, through JSON, made again) and handed an in-memory
asset state store (``aget``/``aset``) already holding a watermark (the highest entry number at the
start: the watchers have run before, so no first-start lookup), all subscribed with their one
``shared_stream_key``, each running ``filter_shared_stream`` on the manager's stream. A task posts
``--postings`` (default 20) entries through the emulator's control API (``insert_entry``, one entry a
posting, visible at once), at random intervals (uniform ``--min-gap``..``--max-gap`` s, default
0.5..8, seeded by ``--seed``), once the first poll is done. The emulator is a subprocess adding
``--latency`` seconds (default 0.05) to every API request.

    python benchmarks/event_latency.py [--postings 20] [--poll-interval 5] [--watchers 50] [--seed 42]
                                       [--latency 0.05] [--independent-polls 3]

Measured:

* latency: for each (posting, watcher) pair, the arrival of the watcher's first event whose range
  ``(from, to]`` holds the posting's entry number, less the time the posting's control call began
  (the arrival is when ``filter_shared_stream`` yields the event, before a triggerer would store it);
  p50 and p95 over all the pairs. Printed beside: of it, the wait for the poll that saw the posting
  (from the posting to the last probe begun before its first event: up to ``poll_interval``), and how
  far apart the watchers got the same posting (the fan-out of one tick to all of them);
* lost: the pairs no event covers, ``2 × --poll-interval`` after the last posting;
* repeated: events of a watcher whose range overlaps one of its earlier events' ranges, or whose
  ``idempotency_key`` it already had (a repeat after a restart is expected and keyed; none without one);
* requests per poll: the emulator's GETs of the entity set in the measured window (from the counters
  of ``stats()``, every status; token and discovery requests are not counted) over the polls made in
  it. Polls are counted by a thin counting wrapper around ``entity_polls.highest`` (the ``$top=1``
  probe each tick makes, failed or not), as the emulator's log of recent requests is capped. The ideal
  is 1 (the probe) plus a read of what is new at the ticks where something was posted, shared by
  every watcher: at most 2.

Side by side in the same run, afterwards: the same watchers each alone (``trigger.run()``, its own
poll: Airflow before 3.3, or no shared stream) for ``--independent-polls`` poll intervals (default
3), one entry posted in the middle (then up to 2 intervals more until every watcher has it: 50 probes
and reads a poll queue behind the governor's 5 requests in flight); their requests per poll interval
(the GETs over the polls of one watcher: all the watchers' probes ÷ the watchers), so that the ratio to
the shared poll shows.

Ends with ``RESULT latency_p50_s=<x> latency_p95_s=<x> lost=<n> repeated=<n> requests_per_poll=<x>
independent_requests_per_poll=<x>`` (targets: latency_p95_s ≤ 10, lost 0, repeated 0,
requests_per_poll ≤ 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

# each watcher logs each event at INFO (a triggerer writes that to the trigger's log), not to this terminal
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

from airflow_provider_bc.testing.airflow_runs import prepare_airflow_home
from airflow_provider_bc.testing.asset_state import MemoryAssetStateStore
from airflow_provider_bc.testing.emulator import EmulatorHandle
from airflow_provider_bc.triggers.watermark_store import STATE_KEY

ENTRIES = "itemLedgerEntries"
TARGET_P95_S, TARGET_REQUESTS_PER_POLL = 10.0, 2.0


@dataclass
class Arrival:
    """An event as a watcher got it: when (``time.monotonic()``) and its payload."""

    at: float
    payload: dict[str, Any]


@dataclass
class Watcher:
    """A watcher's events as they come, its stream iterated on the running loop."""

    arrivals: list[Arrival] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self, stream: AsyncIterator[Any]) -> None:
        self.task = asyncio.ensure_future(self._collect(stream))

    async def _collect(self, stream: AsyncIterator[Any]) -> None:
        async for event in stream:
            self.arrivals.append(Arrival(time.monotonic(), dict(event.payload)))

    async def stop(self) -> None:
        assert self.task is not None
        if self.task.done():
            self.task.result()  # a watcher that ended on its own: its error
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        # the cancelled task's traceback holds the watcher's frames, so the poll generator it iterated: let
        # them go, so that asyncio closes that generator now rather than at the loop's shutdown
        self.task = None

    def covers(self, number: int) -> Arrival | None:
        """The first event whose range ``(from, to]`` holds ``number``."""
        return next((a for a in self.arrivals if a.payload["from"] < number <= a.payload["to"]), None)

    def repeated(self) -> int:
        """Events overlapping an earlier event's range, or with a key already had."""
        count, seen, keys = 0, [], set()
        for arrival in self.arrivals:
            low, high, key = arrival.payload["from"], arrival.payload["to"], arrival.payload["idempotency_key"]
            count += key in keys or any(low < earlier_high and earlier_low < high for earlier_low, earlier_high in seen)
            seen.append((low, high))
            keys.add(key)
        return count

    def gaps(self) -> int:
        """Events not starting where the previous one ended."""
        return sum(b.payload["from"] != a.payload["to"] for a, b in pairwise(self.arrivals))


class Probes:
    """Calls of ``entity_polls.highest`` (the probe of each tick, however it ends) while installed: polls."""

    def __init__(self) -> None:
        self.count = 0
        self.began: list[float] = []  # when each probe began (``time.monotonic()``)

    def install(self) -> None:
        from airflow_provider_bc.triggers import entity_polls

        highest = entity_polls.highest

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            self.began.append(time.monotonic())
            return await highest(*args, **kwargs)

        entity_polls.highest = counted  # type: ignore[assignment]


def gets(emulator: EmulatorHandle) -> int:
    """The GETs of the entity set the emulator answered so far, every status (the probes and the reads)."""
    return sum(emulator.stats()["requests"].get(ENTRIES, {}).values())


def highest_number() -> int:
    """The highest entry number visible now (the watchers' stored watermark)."""
    from airflow_provider_bc.client.key_ranges import key_edge
    from airflow_provider_bc.hooks.business_central import BusinessCentralHook

    client = BusinessCentralHook().new_client()
    try:
        return key_edge(client, ENTRIES, "desc") or 0
    finally:
        client.close()


def watchers(company_id: str, through: int, poll_interval: float, count: int) -> list[Any]:
    """``count`` triggers as the triggerer builds them (serialized, through JSON, made again), each with
    its own state store holding ``through`` as its watermark."""
    from airflow.providers.common.compat.module_loading import import_string

    from airflow_provider_bc.triggers.new_entities import BusinessCentralNewEntitiesTrigger

    made = []
    for _ in range(count):
        classpath, kwargs = BusinessCentralNewEntitiesTrigger(
            company_id=company_id, entity_set=ENTRIES, poll_interval=poll_interval
        ).serialize()
        trigger = import_string(classpath)(**json.loads(json.dumps(kwargs)))
        trigger.asset_state_store = MemoryAssetStateStore({STATE_KEY: {"through": through, "pending": []}})
        made.append(trigger)
    return made


async def wait_for(condition: Any, timeout: float) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds (looked at every 50 ms)."""
    until = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= until:
            return False
        await asyncio.sleep(0.05)
    return True


async def post(emulator: EmulatorHandle) -> tuple[float, int]:
    """One entry posted now: when the control call began, and its entry number."""
    began = time.monotonic()
    entry = await asyncio.to_thread(emulator.insert_entry)
    return began, int(entry["entryNumber"])


@dataclass
class Shared:
    postings: list[tuple[float, int]]
    watchers: list[Watcher]
    requests: int
    polls: int
    seconds: float


async def shared_run(emulator: EmulatorHandle, args: argparse.Namespace, probes: Probes) -> Shared:
    """The watchers on one shared stream; the postings at random intervals; a grace period after them."""
    from airflow.triggers.shared_stream import SharedStreamManager

    company = str(emulator.default_company_id)
    triggers = watchers(company, await asyncio.to_thread(highest_number), args.poll_interval, args.watchers)
    [key] = {trigger.shared_stream_key() for trigger in triggers}
    manager = SharedStreamManager()
    rng = random.Random(args.seed)
    gaps = [rng.uniform(args.min_gap, args.max_gap) for _ in range(args.postings)]
    requests_before, polls_before = await asyncio.to_thread(gets, emulator), probes.count
    begin = time.monotonic()
    got = [Watcher() for _ in triggers]
    for trigger_id, (trigger, watcher) in enumerate(zip(triggers, got, strict=True)):
        watcher.start(trigger.filter_shared_stream(manager.subscribe(trigger_id=trigger_id, trigger=trigger, key=key)))
    postings: list[tuple[float, int]] = []
    try:
        if not await wait_for(lambda: probes.count > polls_before, 60):
            raise RuntimeError("no poll within 60 s")
        for index, gap in enumerate(gaps):
            await asyncio.sleep(gap)
            postings.append(await post(emulator))
            if (index + 1) % 5 == 0:
                print(f"  {index + 1} postings after {time.monotonic() - begin:.0f} s", flush=True)
        await asyncio.sleep(2 * args.poll_interval)  # the grace period: lost is what is not covered by then
    finally:
        for watcher in got:
            await watcher.stop()
        for trigger_id in range(len(triggers)):
            await manager.unsubscribe(trigger_id, key)
    requests = await asyncio.to_thread(gets, emulator) - requests_before
    return Shared(postings, got, requests, probes.count - polls_before, time.monotonic() - begin)


async def independent_run(emulator: EmulatorHandle, args: argparse.Namespace, probes: Probes) -> tuple[int, int, int]:
    """The same watchers each alone (``run()``) for ``--independent-polls`` intervals, an entry posted in
    the middle: the GETs, the probes, and how many watchers got that entry."""
    company = str(emulator.default_company_id)
    triggers = watchers(company, await asyncio.to_thread(highest_number), args.poll_interval, args.watchers)
    requests_before, polls_before = await asyncio.to_thread(gets, emulator), probes.count
    got = [Watcher() for _ in triggers]
    for trigger, watcher in zip(triggers, got, strict=True):
        watcher.start(trigger.run())
    try:
        await asyncio.sleep(args.independent_polls * args.poll_interval / 2)
        _, number = await post(emulator)
        await asyncio.sleep(args.independent_polls * args.poll_interval / 2)
        # 50 probes and reads a poll queue behind the governor (5 in flight): give the late ones a moment
        await wait_for(lambda: all(w.covers(number) for w in got), 2 * args.poll_interval)
    finally:
        for watcher in got:
            await watcher.stop()
        await asyncio.sleep(0.5)  # the abandoned poll generators closed (their client released)
    requests = await asyncio.to_thread(gets, emulator) - requests_before
    return requests, probes.count - polls_before, sum(w.covers(number) is not None for w in got)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (linear between the closest ranks), ``nan`` of no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postings", type=int, default=20, help="entries posted, one a posting")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="the watchers' seconds between polls")
    parser.add_argument("--watchers", type=int, default=50, help="watchers of the same company and entity set")
    parser.add_argument("--seed", type=int, default=42, help="seed of the random intervals")
    parser.add_argument("--min-gap", type=float, default=0.5, help="shortest seconds between postings")
    parser.add_argument("--max-gap", type=float, default=8.0, help="longest seconds between postings")
    parser.add_argument("--latency", type=float, default=0.05, help="emulator seconds added per API request")
    parser.add_argument("--independent-polls", type=int, default=3, help="poll intervals of the independent run")
    args = parser.parse_args()

    prepare_airflow_home(Path(tempfile.mkdtemp(prefix="bc-bench-airflow-")), Path(tempfile.mkdtemp()))
    print(
        f"{args.watchers} watchers sharing one poll every {args.poll_interval:g} s, {args.postings} postings "
        f"{args.min_gap:g}..{args.max_gap:g} s apart (seed {args.seed}), emulator latency {args.latency} s; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    started = time.monotonic()
    probes = Probes()
    probes.install()
    with EmulatorHandle.start(entries=1_000, latency=args.latency) as emulator:
        os.environ["AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT"] = emulator.airflow_connection_env()

        async def both() -> tuple[Shared, tuple[int, int, int]]:
            # one loop for both, as in a triggerer: they share its client (one token, one connection pool)
            shared = await shared_run(emulator, args, probes)
            print(f"  independent watchers for {args.independent_polls} poll intervals", flush=True)
            return shared, await independent_run(emulator, args, probes)

        shared, (alone_requests, alone_polls, alone_got) = asyncio.run(both())

    latencies, waits, spreads, lost = [], [], [], 0
    for began, number in shared.postings:
        arrivals = []
        for watcher in shared.watchers:
            arrival = watcher.covers(number)
            if arrival is None:
                lost += 1
            else:
                latencies.append(arrival.at - began)
                arrivals.append(arrival.at)
        if arrivals:  # the wait for the poll that saw it (the last probe begun before its first event)
            waits.append(max(t for t in probes.began if t <= min(arrivals)) - began)
            spreads.append(max(arrivals) - min(arrivals))
    repeated = sum(w.repeated() for w in shared.watchers)
    gaps = sum(w.gaps() for w in shared.watchers)
    events = sum(len(w.arrivals) for w in shared.watchers)
    requests_per_poll = shared.requests / max(shared.polls, 1)
    alone_per_poll = alone_requests / max(alone_polls / args.watchers, 1)
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    pairs = len(shared.postings) * len(shared.watchers)
    count = len(shared.watchers)
    print(
        f"  shared: {len(shared.postings)} postings in {shared.seconds:.0f} s, {events} events to {count} "
        f"watchers ({events / count:.1f} each), {gaps} not adjoining the previous one"
    )
    slowest = max(latencies, default=float("nan"))
    print(
        f"  latency over {len(latencies)} of {pairs} (posting, watcher) pairs: p50 {p50:.2f} s, p95 {p95:.2f} s "
        f"(target <= {TARGET_P95_S:g}), max {slowest:.2f} s; lost {lost}, repeated {repeated}"
    )
    print(
        f"  of which waiting for the poll that saw the posting: p50 {percentile(waits, 0.5):.2f} s, max "
        f"{max(waits, default=float('nan')):.2f} s; from the first to the last watcher's event: p50 "
        f"{percentile(spreads, 0.5) * 1000:.0f} ms, max {max(spreads, default=float('nan')) * 1000:.0f} ms"
    )
    print(
        f"  {shared.requests} GETs of {ENTRIES} in {shared.polls} polls: {requests_per_poll:.2f} a poll "
        f"(target <= {TARGET_REQUESTS_PER_POLL:g})"
    )
    print(
        f"  independent: {alone_requests} GETs in {alone_polls} polls ({alone_polls / args.watchers:.1f} each): "
        f"{alone_per_poll:.1f} a poll interval, {alone_per_poll / max(requests_per_poll, 1e-9):.0f}x the shared "
        f"poll; {alone_got} of {args.watchers} watchers got the entry posted"
    )
    print(f"  total {time.monotonic() - started:.0f} s")
    print(
        f"RESULT latency_p50_s={p50:.2f} latency_p95_s={p95:.2f} lost={lost} repeated={repeated} "
        f"requests_per_poll={requests_per_poll:.2f} independent_requests_per_poll={alone_per_poll:.1f}"
    )


if __name__ == "__main__":
    main()
