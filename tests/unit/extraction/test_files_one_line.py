"""A row's text made one line (``extraction/files.py``: ``one_line``): only the spacing goes, every byte of
every value (number text, escapes) stays as the API wrote it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.extraction.files import one_line

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | decimals | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
compact = msgspec.json.Encoder(decimal_format="number").encode


@given(values)
def test_an_indented_row_becomes_its_compact_text(value: Any) -> None:
    indented = msgspec.json.format(compact(value), indent=2)
    line = one_line(indented)
    assert b"\n" not in line and line == compact(value)
    assert msgspec.json.Decoder(float_hook=Decimal).decode(line) == value


@pytest.mark.parametrize("number", ["12.50", "0.10", "-0.0", "1E+3", "1234567890.123456789012"])
def test_a_number_keeps_the_api_text(number: str) -> None:
    assert one_line(f'{{\n  "amount" : {number},\n  "note": "a\\u00f8\\n"\n}}'.encode()) == (
        f'{{"amount":{number},"note":"a\\u00f8\\n"}}'.encode()
    )


def test_a_row_on_one_line_is_kept_as_sent() -> None:
    row = b'{"a": 1, "b" :2}'
    assert one_line(row) is row
