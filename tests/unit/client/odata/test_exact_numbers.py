"""loads_exact reads decimals as Decimal, keeping the API's number text; everything else as json.loads does."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.client.odata.exact_numbers import loads_exact

#: JSON number text with a fraction or an exponent (what json.loads would turn into a float)
decimal_texts = st.builds(
    lambda sign, whole, fraction, exponent: f"{sign}{whole}{fraction}{exponent}",
    st.sampled_from(["", "-"]),
    st.from_regex(r"0|[1-9][0-9]{0,30}", fullmatch=True),
    st.from_regex(r"\.[0-9]{1,30}", fullmatch=True),
    st.sampled_from(["", "E+3", "e-7", "E12"]),
)
plain = st.none() | st.booleans() | st.integers() | st.text()
documents = st.recursive(
    plain,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@given(decimal_texts)
def test_a_decimal_keeps_every_digit_of_its_text(text: str) -> None:
    value = loads_exact(f'{{"amount": {text}}}')["amount"]
    assert type(value) is Decimal
    assert value.as_tuple() == Decimal(text).as_tuple()  # the same digits and exponent: trailing zeros included


@given(documents)
def test_without_decimals_it_reads_what_json_loads_reads(document: Any) -> None:
    text = json.dumps(document)
    assert loads_exact(text) == json.loads(text) and loads_exact(text.encode()) == json.loads(text)


@pytest.mark.parametrize("text", ["12.50", "0.10", "-0.0", "100.000"])
def test_trailing_zeros_a_float_would_drop_are_kept(text: str) -> None:
    assert str(loads_exact(f"[{text}]")[0]) == text


def test_numbers_beyond_a_floats_precision_stay_exact_and_integers_stay_int() -> None:
    data = loads_exact(b'{"quantity": 1234567890.123456789012, "entryNumber": 4711}')
    assert data["quantity"] == Decimal("1234567890.123456789012") and type(data["entryNumber"]) is int
    assert json.loads('{"q": 1234567890.123456789012}')["q"] != data["quantity"]  # what a float makes of it
