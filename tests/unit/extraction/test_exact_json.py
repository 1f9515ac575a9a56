"""Number text survives exact JSON: every value and every digit the API wrote comes back."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import airflow_provider_bc.extraction.exact_json as exact_json

decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | decimals | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(values)
def test_exact_json_gives_back_every_value_and_every_digit(value: Any) -> None:
    text = exact_json.dumps(value)
    assert exact_json.loads(text) == value
    assert exact_json.dumps(exact_json.loads(text)) == text  # the number text itself survives


@pytest.mark.parametrize("number", ["12.50", "0.10", "-0.0", "1E+3", "1234567890.123456789012"])
def test_a_decimal_keeps_the_api_text(number: str) -> None:
    assert exact_json.dumps(exact_json.loads(f'{{"amount":{number}}}')) == f'{{"amount":{number}}}'
