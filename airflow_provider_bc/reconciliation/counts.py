"""The ``counts`` strategy: ``$count`` per key range against ``COUNT(*)`` per range, only the ranges
that differ split again until they are small, then those ranges' keys read and merged.

It finds missing, extra and duplicate keys in a few requests when little differs. It cannot see
changed values, nor a range where as many keys are missing as are extra (the counts agree).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_bc.client.batch.reads import MAX_OPERATIONS
from airflow_provider_bc.client.key_ranges import key_bounds
from airflow_provider_bc.reconciliation.business_central import BusinessCentralSide
from airflow_provider_bc.reconciliation.warehouse import Warehouse

#: a range of at most this many keys is read rather than split (keys only: one small page)
LEAF_WIDTH = 2_000
#: the ranges a differing range is split into
FANOUT = 10
#: the most ranges counted at the first level: one ``$batch``
FIRST_LEVEL = MAX_OPERATIONS

KeyRange = tuple[int, int]  # low <= key < high


@dataclass
class CountedRanges:
    """What counting found: rows on each side, and the small ranges whose counts differ."""

    rows_business_central: int = 0
    rows_warehouse: int = 0
    differing: list[KeyRange] = field(default_factory=list)


def count_ranges(
    business_central: BusinessCentralSide, warehouse: Warehouse, span: tuple[int, int] | None
) -> CountedRanges:
    """Count ``span`` (both sides' lowest and highest keys) by ranges, splitting those that differ."""
    found = CountedRanges()
    if span is None:
        return found
    first, last = span
    level = key_bounds(first, last, min(FIRST_LEVEL, math.ceil((last - first + 1) / LEAF_WIDTH)))
    spec = business_central.spec
    top = True
    with ThreadPoolExecutor(spec.max_streams, thread_name_prefix="bc-count") as pool:
        while level:
            batches = [level[i : i + MAX_OPERATIONS] for i in range(0, len(level), MAX_OPERATIONS)]
            counting = [pool.submit(business_central.counts, batch) for batch in batches]
            # the warehouse counts while Business Central's answers are on their way
            theirs = [warehouse.count(window=spec.window, key=spec.key, low=low, high=high) for low, high in level]
            ours = [count for future in counting for count in future.result()]
            if top:
                found.rows_business_central, found.rows_warehouse, top = sum(ours), sum(theirs), False
            following: list[KeyRange] = []
            for (low, high), a, b in zip(level, ours, theirs, strict=True):
                if a == b:
                    continue
                if high - low <= LEAF_WIDTH:
                    found.differing.append((low, high))
                else:
                    following += key_bounds(low, high - 1, FANOUT)
            level = following
    found.differing.sort()
    return found


def keys_in(business_central: BusinessCentralSide, ranges: list[KeyRange]) -> Iterator[dict[str, Any]]:
    """Business Central's rows of ``ranges`` (keys only), in key order."""
    return business_central.rows_of_ranges(ranges, [business_central.spec.key])


def warehouse_keys_in(warehouse: Warehouse, key: str, ranges: list[KeyRange], window: Any) -> Iterator[dict[str, Any]]:
    """The warehouse's rows of ``ranges`` (keys only), in key order."""
    for low, high in ranges:
        yield from warehouse.rows([key], window=window, key=key, ordered=True, low=low, high=high)
