"""Many entries by id: ``get_entities`` (``$batch``, 100 GETs a request) against one GET per id.

One emulator (``--latency 0.2`` s added to every API request by default, about what a Business
Central round trip costs) holds ``--entries`` entries (default 1,000). The ids asked for are N: nine
in ten of them entries, one in ten GUIDs that exist nowhere, shuffled. Side by side in one run, each
with a client of its own:

* ``batch``: ``client.get_entities(itemLedgerEntries, ids)``;
* ``sequential``: ``client.lookup(Lookup(entity_id=id))`` for each id in turn, as a loop over
  ``get_entity`` would (a missing id is ``None`` instead of an error).

Both answers are compared (each id maps to the same entity, or to ``None`` both times); HTTP requests
are the API requests the emulator answered (Entra's token requests left out).

    python benchmarks/batch_reads.py [--entries 1000] [--latency 0.2] [--batch-size 100]

Ends with ``RESULT request_ratio=<sequential requests / batch requests> speedup=<sequential s / batch s>``
(targets: at least 20 and 10). Beyond about 2,900 ids the two runs together pass the principal's 6,000
requests per 5 minutes (a batch's operations count there too), and the throttling shows in the times.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.testing.emulator import EmulatorHandle

ENTITY_SET = "itemLedgerEntries"
TARGET_REQUESTS, TARGET_SPEEDUP = 20.0, 10.0
Read = Callable[[BusinessCentralClient, list[str]], dict[str, Any]]


def settings_of(emulator: EmulatorHandle) -> ClientSettings:
    """The settings of the emulator's Airflow connection (its extra names settings fields)."""
    conn = emulator.airflow_connection()
    return ClientSettings(
        client_id=conn["login"], client_secret=conn["password"], api_host=conn["host"], **conn["extra"]
    )


def ids_to_read(emulator: EmulatorHandle, count: int) -> list[str]:
    """``count`` ids: nine in ten of entries (read id-only, latency lifted for it), one in ten made up."""
    latency = emulator.configure(latency=0)["latency"]
    client = BusinessCentralClient(settings_of(emulator))
    try:
        present = [entity["id"] for entity in client.iter_entities(ENTITY_SET, select="id")][: count - count // 10]
    finally:
        client.close()
        emulator.configure(latency=latency)
    rng = random.Random(42)
    ids = present + [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count // 10)]
    rng.shuffle(ids)
    return ids


def by_batch(batch_size: int) -> Read:
    return lambda client, ids: client.get_entities(ENTITY_SET, ids, batch_size=batch_size)


def one_by_one(client: BusinessCentralClient, ids: list[str]) -> dict[str, Any]:
    found = {}
    for entity_id in ids:
        matches = client.lookup(Lookup.build(ENTITY_SET, entity_id=entity_id))
        found[entity_id] = matches[0] if matches else None
    return found


def measure(emulator: EmulatorHandle, read: Read, ids: list[str]) -> dict[str, Any]:
    """Time ``read`` with a new client on a freshly reset emulator; count the API requests it made."""
    emulator.reset()
    client = BusinessCentralClient(settings_of(emulator))
    try:
        begin = time.perf_counter()
        found = read(client, ids)
        seconds = time.perf_counter() - begin
    finally:
        client.close()
    stats = emulator.stats()
    api = {
        route: sum(counts.values())
        for route, counts in stats["requests"].items()
        if route not in ("token", "discovery")
    }
    return {
        "seconds": seconds,
        "requests": sum(api.values()),
        "routes": api,
        "operations": sum(sum(counts.values()) for counts in stats["operations"].values()),
        "found": {entity_id: entity and entity["id"] for entity_id, entity in found.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000, help="ids to read (N); the emulator holds N entries")
    parser.add_argument("--latency", type=float, default=0.2, help="emulator seconds added per API request")
    parser.add_argument("--batch-size", type=int, default=100, help="GETs per $batch (at most 100)")
    args = parser.parse_args()

    print(
        f"{args.entries:,} ids by $batch ({args.batch_size} a request) and one GET at a time, emulator latency "
        f"{args.latency} s; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    with EmulatorHandle.start(entries=args.entries, latency=args.latency) as emulator:
        ids = ids_to_read(emulator, args.entries)
        results = {}
        for name, read in (("batch", by_batch(args.batch_size)), ("sequential", one_by_one)):
            results[name] = result = measure(emulator, read, ids)
            print(
                f"  {name:<10} {result['seconds']:7.1f} s  {result['requests']:>5} requests {result['routes']}  "
                f"{result['operations']:>5} operations in batches",
                flush=True,
            )
    batch, sequential = results["batch"], results["sequential"]
    if batch["found"] != sequential["found"]:
        raise SystemExit("the two reads found different entities")
    absent = sum(entity is None for entity in batch["found"].values())
    request_ratio = sequential["requests"] / batch["requests"]
    speedup = sequential["seconds"] / batch["seconds"]
    print(f"same answer both ways: {len(ids) - absent:,} entities, {absent:,} ids without one")
    print(
        f"requests: {request_ratio:.1f}x fewer (target >= {TARGET_REQUESTS:.0f}); time: {speedup:.1f}x faster "
        f"(target >= {TARGET_SPEEDUP:.0f})"
    )
    print(f"RESULT request_ratio={request_ratio:.2f} speedup={speedup:.2f}")


if __name__ == "__main__":
    main()
