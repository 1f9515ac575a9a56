"""Answers parsed once, their entities keeping their own text: the same values as ``json.loads``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.client.json_text import EntityText, loads_keeping_text
from airflow_provider_bc.extraction.files import ndjson_line

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
entities = st.lists(st.dictionaries(st.text(max_size=6), values, max_size=4), max_size=4)
others = st.dictionaries(st.text(max_size=6).filter(lambda k: k != "value"), values, max_size=3)


@given(entities, others, st.sampled_from([None, 1, 2]), st.sampled_from([(",", ":"), (", ", ": ")]))
def test_the_same_values_as_json_loads_and_each_entity_its_own_text(
    rows: list[dict[str, Any]], rest: dict[str, Any], indent: int | None, separators: tuple[str, str]
) -> None:
    body = json.dumps({**rest, "value": rows}, indent=indent, separators=separators)
    parsed = loads_keeping_text(body, Decimal)
    assert parsed == json.loads(body, parse_float=Decimal)
    for row in parsed["value"]:
        assert isinstance(row, EntityText) and json.loads(row.text, parse_float=Decimal) == row
        assert row.text in body


@pytest.mark.parametrize(
    "body",
    ['{"value": [{"a": 1}', '{"value": [{"a": 1},]}', '{"value": [] "x": 1}', '{"value": []} tail', "{1: 2}", ""],
)
def test_malformed_json_is_refused_as_json_loads_refuses_it(body: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    with pytest.raises(json.JSONDecodeError):
        loads_keeping_text(body, Decimal)


def test_number_text_is_kept_verbatim() -> None:
    (row,) = loads_keeping_text('{"value":[{"amount":12.50,"n":1E+3}]}', Decimal)["value"]
    assert row.text == '{"amount":12.50,"n":1E+3}' and row["amount"] == Decimal("12.50")


@given(entities, st.lists(st.text(max_size=6), max_size=3, unique=True), st.sampled_from([None, 2]))
def test_only_the_fields_asked_for_are_kept_beside_the_whole_text(
    rows: list[dict[str, Any]], fields: list[str], indent: int | None
) -> None:
    body = json.dumps({"value": rows}, indent=indent)
    parsed = loads_keeping_text(body, Decimal, tuple(fields))["value"]
    full = json.loads(body, parse_float=Decimal)["value"]
    assert [dict(row) for row in parsed] == [{f: row[f] for f in fields if f in row} for row in full]
    assert [json.loads(row.text, parse_float=Decimal) for row in parsed] == full


def test_a_row_spanning_lines_is_written_whole_from_its_text_not_from_its_kept_fields() -> None:
    body = json.dumps({"value": [{"id": "a", "amount": 12.50, "note": "x"}]}, indent=2).replace("12.5", "12.50")
    (row,) = loads_keeping_text(body, Decimal, ("id",))["value"]
    assert row == {"id": "a"} and "\n" in row.text
    assert ndjson_line(row) == '{"id":"a","amount":12.50,"note":"x"}'
