"""Entry-number ranges: a key span cut into partitions that cover it once."""

from __future__ import annotations

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.client.key_ranges import range_filters


@given(st.integers(1, 10**9), st.integers(0, 10**6), st.integers(1, 40))
def test_key_ranges_cover_the_span_once(first: int, width: int, parts: int) -> None:
    last = first + width
    bounds = [tuple(map(int, re.findall(r"entryNumber (?:ge|lt) (\d+)", f))) for f in range_filters(first, last, parts)]
    assert 1 <= len(bounds) <= parts
    assert bounds[0][0] == first and bounds[-1][1] == last + 1
    assert all(low < high for low, high in bounds) and all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
