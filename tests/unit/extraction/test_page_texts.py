"""Answers parsed once, their entities kept as the text they were sent as: the same values as ``json.loads``."""

from __future__ import annotations

import gzip
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.extraction.files import NdjsonWriter
from airflow_provider_bc.extraction.page_texts import EntityTexts, loads_entity_texts

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
entities = st.lists(st.dictionaries(st.text(max_size=6), values, max_size=4), max_size=4)
others = st.dictionaries(st.text(max_size=6).filter(lambda k: k != "value"), values, max_size=3)


def loads(body: str | bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


@given(
    entities,
    others,
    st.lists(st.text(max_size=6), max_size=3, unique=True),
    st.sampled_from([None, 1]),
    st.sampled_from([(",", ":"), (", ", ": ")]),
    st.booleans(),
)
def test_the_same_values_as_json_loads_each_entity_its_own_text_and_the_fields_asked_for(
    rows: list[dict[str, Any]],
    rest: dict[str, Any],
    fields: list[str],
    indent: int | None,
    separators: tuple[str, str],
    ascii_only: bool,
) -> None:
    body = json.dumps({**rest, "value": rows}, indent=indent, separators=separators, ensure_ascii=ascii_only).encode()
    parsed = loads_entity_texts(body, fields)
    expected = loads(body)
    texts = parsed["value"]
    assert isinstance(texts, EntityTexts)
    assert {k: v for k, v in parsed.items() if k != "value"} == {k: v for k, v in expected.items() if k != "value"}
    assert list(texts) == expected["value"] and len(texts) == len(rows)
    assert [loads(text) for text in texts.texts()] == expected["value"]
    assert all(text in body for text in texts.texts())
    for name in fields:
        assert texts.column(name) == [row.get(name) for row in expected["value"]]


def test_text_that_is_not_ascii_is_read_as_utf8_wherever_it_is() -> None:
    body = '{"value":[{"id":"ø1","n":1.50,"d":"€"},{"id":"\\u00f8","n":2}],"x":"Søn"}'.encode()
    parsed = loads_entity_texts(body, ("id", "n"))
    assert parsed["x"] == "Søn" and parsed["value"].column("id") == ["ø1", "ø"]
    assert parsed["value"].column("n") == [Decimal("1.50"), 2] and parsed["value"][0]["d"] == "€"
    assert parsed["value"].texts() == ['{"id":"ø1","n":1.50,"d":"€"}'.encode(), b'{"id":"\\u00f8","n":2}']


@pytest.mark.parametrize(
    "body",
    [b'{"value": [{"a": 1}', b'{"value": [{"a": 1},]}', b'{"value": [] "x": 1}', b'{"value": []} tail', b"{1: 2}", b""],
)
def test_malformed_json_is_refused_as_json_loads_refuses_it(body: bytes) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    with pytest.raises(json.JSONDecodeError):
        loads_entity_texts(body, ())


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(UnicodeDecodeError):
        loads_entity_texts(b'{"value":[{"a":"\xff"}]}', ("a",))


@pytest.mark.parametrize("body", [b'{"value":[1,{"a":2}]}', b"[1]", b'{"value":"x"}'])
def test_what_is_not_a_list_of_entities_reads_as_json_loads_reads_it(body: bytes) -> None:
    assert loads_entity_texts(body, ("a",)) == loads(body)


def test_number_text_is_kept_verbatim() -> None:
    (text,) = loads_entity_texts(b'{"value":[{"amount":12.50,"n":1E+3}]}', ("amount",))["value"].texts()
    assert text == b'{"amount":12.50,"n":1E+3}'


def test_a_subset_keeps_the_texts_and_fields_of_the_rows_chosen() -> None:
    texts = loads_entity_texts(b'{"value":[{"id":"a"},{"id":"b"},{"id":"c"}]}', ("id",))["value"]
    chosen = texts.subset([2, 0])
    assert chosen.texts() == [b'{"id":"c"}', b'{"id":"a"}'] and chosen.column("id") == ["c", "a"]


class _Folder:
    """Just enough of a path for a part writer: ``folder / name`` opens into memory."""

    def __init__(self) -> None:
        self.data = io.BytesIO()

    def __truediv__(self, name: str) -> _Folder:
        return self

    def open(self, mode: str) -> io.BytesIO:
        self.data.close = lambda: None  # type: ignore[method-assign]  # read after the writer closes it
        return self.data


def test_rows_spanning_lines_are_written_compact_every_digit_kept() -> None:
    body = json.dumps({"value": [{"id": "a", "amount": 12.50, "note": "x"}, {"id": "b"}]}, indent=2)
    texts = loads_entity_texts(body.replace("12.5", "12.50").encode(), ("id",))["value"]
    assert texts.spans_lines
    folder = _Folder()
    writer = NdjsonWriter(folder, "part.ndjson.gz", compress=True)  # type: ignore[arg-type]
    writer.write(texts)
    written = writer.close()
    lines = gzip.decompress(folder.data.getvalue()).decode().splitlines()
    assert lines == ['{"id":"a","amount":12.50,"note":"x"}', '{"id":"b"}'] and written.rows == 2
