"""Micro benchmark: a page of item ledger entries read by the extraction's reader (``extraction.page_texts``:
msgspec, each entity kept as the bytes it was sent as) and by ``json.loads`` (the standard library: it keeps
no entity's text, so each is written back), side by side,
interleaved, in one process. (The hand scanner msgspec replaced took 3.5 times as long a page and twice
the memory: commit 078ad89 measured both.)

Pages are built from the emulator's seed (compact JSON, ``@odata.etag`` first, as the emulator sends
them), PAGES pages of SIZE entries; a second set has non-ASCII text in a description on every 10th row.
Per reader: µs a page to decode (best of REPEATS passes over all pages, median page), µs to decode and
have every row's text (what the NDJSON writer needs: ``texts()``; for json.loads, each entity written back
by json.dumps), and the peak traced memory (tracemalloc) of one page and 1,000 rows' texts, in MB.

    python benchmarks/page_texts_decode.py [--size 5000] [--pages 8] [--repeats 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from airflow_provider_bc.extraction import page_texts
from airflow_provider_bc.extraction.streams import ROW_FIELDS_READ
from airflow_provider_bc.testing.emulator.seed import item_ledger_entries
from airflow_provider_bc.testing.emulator.tables import etag_for


def pages(size: int, count: int, non_ascii: bool) -> list[bytes]:
    entries = item_ledger_entries(42, 0, size * count)
    bodies = []
    for page in range(count):
        rows = []
        for i in range(size):
            entry = next(entries)
            if non_ascii and i % 10 == 0:
                entry["description"] = "Skruetrækker, blå ø-model €"
            text = {"@odata.etag": etag_for(entry["id"], entry["lastModifiedDateTime"]), **entry}
            rows.append(json.dumps(text, separators=(",", ":"), ensure_ascii=False).encode())
        bodies.append(
            b'{"@odata.context":"https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0/$metadata'
            b'#companies(x)/itemLedgerEntries","value":['
            + b",".join(rows)
            + b'],"@odata.nextLink":"https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0/'
            + b"companies(x)/itemLedgerEntries?$skiptoken=%d" % page
            + b'"}'
        )
    return bodies


def read_texts(body: bytes) -> list[bytes]:
    """The extraction's reader: each entity's text as sent."""
    texts: list[bytes] = page_texts.loads_entity_texts(body, ROW_FIELDS_READ)["value"].texts()
    return texts


def floor_texts(body: bytes) -> list[bytes]:
    """json.loads, each entity written back by json.dumps: the standard library's way (numbers as floats)."""
    return [json.dumps(entity, separators=(",", ":")).encode() for entity in json.loads(body)["value"]]


READERS: dict[str, tuple[Callable[[bytes], Any], Callable[[bytes], Any]]] = {
    "json.loads": (json.loads, floor_texts),
    "msgspec": (lambda body: page_texts.loads_entity_texts(body, ROW_FIELDS_READ), read_texts),
}


def per_page_us(read: Callable[[bytes], Any], bodies: list[bytes]) -> float:
    times = []
    for body in bodies:
        begin = time.perf_counter()
        parsed = read(body)
        times.append(time.perf_counter() - begin)
        del parsed
    return statistics.median(times) * 1e6


def peak_mb(texts: Callable[[bytes], list[bytes]], body: bytes) -> float:
    gc.collect()
    tracemalloc.start()
    kept = texts(body)[:1000]  # a writer's batch of rows
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del kept
    return peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for non_ascii in (False, True):
        bodies = pages(args.size, args.pages, non_ascii)
        mean_body = sum(map(len, bodies)) / len(bodies) / 1e6
        assert [json.loads(text) for text in read_texts(bodies[0])] == json.loads(bodies[0])["value"]
        best: dict[tuple[str, int], float] = {}
        for _ in range(args.repeats):  # interleaved
            for name, readers in READERS.items():
                for kind, read in enumerate(readers):
                    us = per_page_us(read, bodies)
                    best[name, kind] = min(best.get((name, kind), us), us)
        label = "non-ASCII rows" if non_ascii else "ASCII"
        print(f"{args.pages} pages of {args.size:,} entries ({label}), body {mean_body:.2f} MB a page:")
        for name, (_, texts) in READERS.items():
            print(
                f"  {name:<10} decode {best[name, 0]:9,.0f} µs/page  with texts {best[name, 1]:9,.0f} µs/page  "
                f"peak {peak_mb(texts, bodies[0]):6.2f} MB (a page and 1,000 texts)"
            )
        print(
            f"RESULT {label.replace(' ', '_')} size={args.size} "
            f"vs_json_loads={best['msgspec', 0] / best['json.loads', 0]:.2f} "
            f"vs_json_loads_with_texts={best['msgspec', 1] / best['json.loads', 1]:.2f}"
        )


if __name__ == "__main__":
    main()
