"""Collection answers whose entities are kept as the JSON text they were sent as.

A bulk extraction writes rows as the API sent them (every digit kept) and reads only a few fields
of each. :func:`loads_entity_texts` parses a page's body once with the C scanner, then keeps the
body itself with each entity's place in it, and those few fields: a page held in about the size of
its body, each row written by slicing it.
"""

from __future__ import annotations

import codecs
import json
import re
from array import array
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from airflow_provider_bc.client.odata.exact_numbers import loads_exact
from airflow_provider_bc.client.odata.paging import DecodedEntities

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SPACE = frozenset(" \t\n\r")
#: the types of JSON values without text
_SCALARS = frozenset({int, float, bool, Decimal, type(None)})
_UTF8_CHUNK = 1 << 16


class EntityTexts(DecodedEntities):
    """A page's entities as the JSON text they were sent as (slices of the answer's body, UTF-8),
    with the values of a few fields parsed beside them (:meth:`column`)."""

    __slots__ = ("_body", "_columns", "_ends", "_starts", "spans_lines")

    def __init__(
        self, body: bytes, starts: array[int], ends: array[int], columns: dict[str, list[Any]], spans_lines: bool
    ) -> None:
        self._body, self._starts, self._ends, self._columns = body, starts, ends, columns
        #: whether an entity's text may span lines (the answer was indented)
        self.spans_lines = spans_lines

    def __len__(self) -> int:
        return len(self._starts)

    def entity(self, index: int) -> dict[str, Any]:
        entity: dict[str, Any] = loads_exact(self.texts(index, index + 1)[0])
        return entity

    def texts(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        """The JSON texts of entities ``start`` to ``stop`` (excluded), as sent."""
        body = self._body
        return [body[s:e] for s, e in zip(self._starts[start:stop], self._ends[start:stop], strict=True)]

    def column(self, name: str) -> list[Any]:
        """Field ``name`` of each entity (``None`` where absent; only the fields parsed are here)."""
        return self._columns[name]

    def subset(self, indexes: Sequence[int]) -> EntityTexts:
        """Only the entities at ``indexes``, in that order (the body is shared, not copied)."""
        starts, ends = self._starts, self._ends
        return EntityTexts(
            self._body,
            array("q", [starts[i] for i in indexes]),
            array("q", [ends[i] for i in indexes]),
            {name: [values[i] for i in indexes] for name, values in self._columns.items()},
            self.spans_lines,
        )


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _expect(text: str, index: int, character: str) -> int:
    if not text.startswith(character, index):
        raise json.JSONDecodeError(f"Expecting {character!r}", text, index)
    return _skip(text, index + 1)


def _check_utf8(body: bytes) -> None:
    """Raise :class:`UnicodeDecodeError` unless ``body`` is UTF-8 (read in chunks: no copy of the whole)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    for start in range(0, len(body), _UTF8_CHUNK):
        decoder.decode(view[start : start + _UTF8_CHUNK])
    decoder.decode(b"", final=True)


class _NotEntities(Exception):
    """A ``value`` array holding something else than objects."""


class _Reader:
    """One body read as Latin-1: a character per byte, so the scanner's offsets are the body's byte
    offsets (JSON's structure is ASCII). A value with text that is not ASCII is read again from its
    UTF-8 bytes; ASCII text reads the same either way."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.ascii = body.isascii()
        if not self.ascii:
            _check_utf8(body)
        self.text = body.decode("latin-1")
        self.decoder = json.JSONDecoder(parse_float=Decimal)

    def value(self, index: int) -> tuple[Any, int]:
        """The JSON value at ``index`` and the index after it."""
        start = index
        value, index = self.decoder.raw_decode(self.text, index)
        if not self.ascii and not _plain(value):
            value = loads_exact(self.body[start:index])
        return value, index


def _plain(value: Any) -> bool:
    """Whether ``value`` reads the same from Latin-1 as from UTF-8 (no text, or ASCII text)."""
    if isinstance(value, str):
        return value.isascii()
    return not isinstance(value, (dict, list))


def _plain_column(values: list[Any]) -> bool:
    """Whether every value in ``values`` is :func:`_plain` (checked a column at a time, in C loops)."""
    kinds = set(map(type, values))
    if kinds <= _SCALARS:
        return True
    return kinds <= {str, type(None)} and "".join(filter(None, values)).isascii()


def _read_exactly(
    body: bytes, starts: array[int], ends: array[int], fields: tuple[str, ...], columns: list[list[Any]]
) -> None:
    """Read again, from its UTF-8 bytes, each entity whose fields' Latin-1 reading may differ: a field
    named or holding text that is not ASCII."""
    if not all(name.isascii() for name in fields):
        again: Iterable[int] = range(len(starts))
    else:
        again = sorted(
            {
                i
                for column in columns
                if not _plain_column(column)
                for i, value in enumerate(column)
                if not _plain(value)
            }
        )
    for index in again:
        exact = loads_exact(body[starts[index] : ends[index]])
        for name, column in zip(fields, columns, strict=True):
            column[index] = exact.get(name)


def _entities(reader: _Reader, index: int, fields: tuple[str, ...]) -> tuple[EntityTexts, int]:
    """The array of objects at ``index`` as :class:`EntityTexts`; :class:`_NotEntities` if an item is no object."""
    text = reader.text
    starts, ends = array("q"), array("q")
    columns: list[list[Any]] = [[] for _ in fields]
    appends = [(name, column.append) for name, column in zip(fields, columns, strict=True)]
    index = _expect(text, index, "[")
    # the C scanner that raw_decode wraps (typeshed omits the attribute): a frame and a regex match less per item
    scan: Callable[[str, int], tuple[Any, int]] = reader.decoder.scan_once  # type: ignore[attr-defined]
    if text.startswith("]", index):
        return EntityTexts(reader.body, starts, ends, {name: [] for name in fields}, False), index + 1
    while True:
        start = index
        try:
            item, index = scan(text, index)
        except StopIteration as stop:
            raise json.JSONDecodeError("Expecting value", text, stop.value) from None
        if not isinstance(item, dict):
            raise _NotEntities
        starts.append(start)
        ends.append(index)
        for name, append in appends:
            append(item.get(name))
        if text.startswith(",", index):  # compact JSON, as the API sends it
            index += 1
            if text[index : index + 1] in _SPACE:
                index = _skip(text, index)
            continue
        index = _skip(text, index)
        if text.startswith("]", index):
            break
        index = _expect(text, index, ",")
    if not reader.ascii:
        _read_exactly(reader.body, starts, ends, fields, columns)
    spans_lines = text.find("\n", starts[0], index) >= 0 or text.find("\r", starts[0], index) >= 0
    return EntityTexts(reader.body, starts, ends, dict(zip(fields, columns, strict=True)), spans_lines), index + 1


def loads_entity_texts(body: bytes, fields: Iterable[str]) -> Any:
    """The JSON value in ``body`` (UTF-8) as :func:`loads_exact` reads it, except an object's ``value``
    array of objects: :class:`EntityTexts`, holding ``fields`` of each entity beside its text.

    Malformed JSON raises :class:`json.JSONDecodeError`, as ``json.loads`` does; a body that is not
    UTF-8 raises :class:`UnicodeDecodeError`.
    """
    reader = _Reader(body)
    try:
        return _object(reader, tuple(fields))
    except _NotEntities:
        return loads_exact(body)  # not entities: what json.loads makes of it


def _object(reader: _Reader, names: tuple[str, ...]) -> dict[str, Any]:
    """The body's top-level object, its ``value`` read by :func:`_entities`."""
    text = reader.text
    index = _skip(text, 0)
    if not text.startswith("{", index):
        raise _NotEntities  # not an object
    result: dict[str, Any] = {}
    index = _skip(text, index + 1)
    if text.startswith("}", index):
        index += 1
    else:
        while True:
            key, index = reader.value(index)
            if not isinstance(key, str):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, index)
            index = _expect(text, _skip(text, index), ":")
            if key == "value" and text.startswith("[", index):
                result[key], index = _entities(reader, index, names)
            else:
                result[key], index = reader.value(index)
            index = _skip(text, index)
            if text.startswith("}", index):
                index += 1
                break
            index = _expect(text, index, ",")
    if _skip(text, index) != len(text):
        raise json.JSONDecodeError("Extra data", text, index)
    return result
