"""Pages Business Central should never send, read as ``json.loads`` reads them or refused as a bad answer:
huge numbers, duplicate keys, escapes, byte order marks, NaN, lone surrogates, cut and garbled bodies, any bytes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.extraction.page_texts import EntityTexts, loads_entity_texts

FIELDS = [("id", "entryNumber", "lastModifiedDateTime"), ("", "ø", "id", "id")]

EDGE_BODIES = [
    b'{"value":[{"id":"a","entryNumber":123456789012345678901234567890,"x":-99999999999999999999}]}',
    b'{"value":[{"id":"a","n":1E+400,"m":5e-324,"z":-0,"w":-0.0}]}',
    b'{"value":[{"id":"a","id":"b"}],"value2":{"k":1,"k":2}}',
    b'{"value":[{"id":"first"}],"value":[{"id":"second"}]}',
    b'{"value":[{"id":"a"}],"value":3}',
    b'{"value":[{"\\u0069d":"escaped key","lastModifiedDateTime":"2024-01-02T03:04:05.123Z"}]}',
    b'{"value":[{"id":"a","s":"\\ud800"}]}',
    b'{"value":[{"id":"\\ud800"}]}',
    b'{"value":[{"id":"\\ud83d\\ude00"}]}',
    b'{"value":[{"id":NaN}]}',
    b'{"value":[{"id":1}],"n":Infinity}',
    b'\xef\xbb\xbf{"value":[{"id":"a"}]}',
    b'\n {"value" :\r\n [ {"id" : "a"} ,\n{"id":"b"} ] }\n',
    b'{"value":[]}',
    b'{"value":[{}]}',
    b'{"value":[[]]}',
    b'{"value":null}',
    b'{"value":[{"id":"a"}]',
    b'{"value":[{"id":"a"}]}}',
    b'{"value":[{"id":"a\x01"}]}',
    b'{"value":[{"id":"a"}],}',
    b'{"value":[{"id":01}]}',
    b'{"value":[{"id":1.}]}',
    b'{"value":[{"id":"\\x"}]}',
    b'{"value":[{"id":tru}]}',
    b"123",
    b"null",
    b'"value"',
    b"   ",
    b'{"value":[{"id":"\xc3"}]}',
    b'{"value":[{"id":"\xed\xa0\x80"}]}',
    b'{"value":[' + b"[" * 5000 + b"]" * 5000 + b"]}",
]


#: what json.loads takes but strict JSON (and Business Central) does not: refused as a bad answer
NOT_STRICT = {
    b'{"value":[{"id":"a","s":"\\ud800"}]}',
    b'{"value":[{"id":"\\ud800"}]}',
    b'{"value":[{"id":NaN}]}',
    b'{"value":[{"id":1}],"n":Infinity}',
}


def loads(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= character <= "\udfff" for character in value)
    if isinstance(value, dict):
        return any(_lone_surrogate(key) or _lone_surrogate(item) for key, item in value.items())
    return isinstance(value, list) and any(map(_lone_surrogate, value))


def not_strict(body: bytes) -> bool:
    """Whether json.loads reads ``body`` only by taking NaN, Infinity or a lone surrogate."""
    constants: list[str] = []
    value = json.loads(body.decode("utf-8").removeprefix("\ufeff"), parse_constant=constants.append)
    return bool(constants) or _lone_surrogate(value)


def check_read_as_json_loads(body: bytes, fields: tuple[str, ...]) -> None:
    """The page reads as json.loads reads its UTF-8 text (JSON on the wire is UTF-8: RFC 8259), each
    entity's text its own; or it is refused as json.loads refuses it, or as JSON Business Central does
    not write."""
    try:
        expected = json.loads(body.decode("utf-8").removeprefix("\ufeff"), parse_float=Decimal)
    except (ValueError, RecursionError) as refused:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        with pytest.raises(ValueError if isinstance(refused, ValueError) else RecursionError):
            loads_entity_texts(body, fields)
        return
    if not_strict(body):
        with pytest.raises(ValueError, match="JSON Business Central does not write"):
            loads_entity_texts(body, fields)
        return
    parsed = loads_entity_texts(body, fields)
    if not (isinstance(parsed, dict) and isinstance(parsed.get("value"), EntityTexts)):
        assert parsed == expected
        return
    texts = parsed["value"]
    assert {k: v for k, v in parsed.items() if k != "value"} == {k: v for k, v in expected.items() if k != "value"}
    assert list(texts) == expected["value"] and [loads(text) for text in texts.texts()] == expected["value"]
    for name in fields:
        assert texts.column(name) == [row.get(name) for row in expected["value"]]


def test_the_pages_json_loads_takes_and_strict_json_does_not_are_told_apart() -> None:
    assert all(map(not_strict, NOT_STRICT))
    assert not any(not_strict(body) for body in (b'{"value":[{"id":"\\ud83d\\ude00"}]}', b'{"n":"NaN"}'))


@pytest.mark.parametrize("body", EDGE_BODIES)
@pytest.mark.parametrize("fields", FIELDS)
def test_an_odd_page_reads_as_json_loads_reads_it_or_is_refused(body: bytes, fields: tuple[str, ...]) -> None:
    check_read_as_json_loads(body, fields)


@given(
    st.binary(max_size=40) | st.text(alphabet='{}[]":,0123456789.eE+-truefalsnul \n\\abcø', max_size=40).map(str.encode)
)
def test_any_bytes_read_as_json_loads_reads_them_or_are_refused(body: bytes) -> None:
    for candidate in (body, b'{"value":[' + body + b"]}"):
        check_read_as_json_loads(candidate, ("a", "id"))
