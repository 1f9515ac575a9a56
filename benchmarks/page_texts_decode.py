"""Micro benchmark: a page of item ledger entries read by the hand scanner (``extraction.page_texts``) and by
msgspec (``extraction.page_texts_msgspec``), side by side, interleaved, in one process.

Pages are built from the emulator's seed (compact JSON, ``@odata.etag`` first, as the emulator sends
them), PAGES pages of SIZE entries; a second set has non-ASCII text in a description on every 10th row.
Per decoder: µs a page to decode (best of REPEATS passes over all pages, median page), µs to decode and
take every row's text (``texts()``, what the NDJSON writer does), and the peak traced memory (tracemalloc)
of decoding one page and holding its result, in MB, beside the body's size.

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

from airflow_provider_bc.extraction import page_texts, page_texts_msgspec
from airflow_provider_bc.extraction.streams import ROW_FIELDS_READ
from airflow_provider_bc.testing.emulator.seed import item_ledger_entries
from airflow_provider_bc.testing.emulator.tables import etag_for

DECODERS: dict[str, Callable[[bytes, Any], Any]] = {
    "scanner": page_texts.loads_entity_texts,
    "msgspec": page_texts_msgspec.loads_entity_texts,
}


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


def per_page_us(decode: Callable[[bytes, Any], Any], bodies: list[bytes], with_texts: bool) -> float:
    times = []
    for body in bodies:
        begin = time.perf_counter()
        parsed = decode(body, ROW_FIELDS_READ)
        if with_texts:
            parsed["value"].texts()
        times.append(time.perf_counter() - begin)
        del parsed
    return statistics.median(times) * 1e6


def peak_mb(decode: Callable[[bytes, Any], Any], body: bytes) -> float:
    gc.collect()
    tracemalloc.start()
    parsed = decode(body, ROW_FIELDS_READ)
    texts = parsed["value"].texts(0, 1000)  # a writer's batch of rows
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del parsed, texts
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
        for a, b in ((a, b) for a in DECODERS for b in DECODERS):  # the same reading, both ways
            pa, pb = DECODERS[a](bodies[0], ROW_FIELDS_READ)["value"], DECODERS[b](bodies[0], ROW_FIELDS_READ)["value"]
            assert pa.texts() == pb.texts() and all(pa.column(f) == pb.column(f) for f in ROW_FIELDS_READ)
        best: dict[tuple[str, bool], float] = {}
        for _ in range(args.repeats):  # interleaved
            for name, decode in DECODERS.items():
                for with_texts in (False, True):
                    us = per_page_us(decode, bodies, with_texts)
                    best[name, with_texts] = min(best.get((name, with_texts), us), us)
        label = "non-ASCII rows" if non_ascii else "ASCII"
        print(f"{args.pages} pages of {args.size:,} entries ({label}), body {mean_body:.2f} MB a page:")
        for name, decode in DECODERS.items():
            print(
                f"  {name:<8} decode {best[name, False]:9,.0f} µs/page  decode+texts {best[name, True]:9,.0f} µs/page  "
                f"peak {peak_mb(decode, bodies[0]):6.2f} MB (decode + 1,000 texts)"
            )
        ratio = best["scanner", False] / best["msgspec", False]
        ratio_t = best["scanner", True] / best["msgspec", True]
        print(
            f"RESULT {label.replace(' ', '_')} size={args.size} speedup_decode={ratio:.2f} "
            f"speedup_with_texts={ratio_t:.2f}"
        )


if __name__ == "__main__":
    main()
