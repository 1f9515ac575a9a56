"""Collection answers whose entities are kept as the JSON text they were sent as.

A bulk extraction writes rows as the API sent them (every digit kept) and reads only a few fields
of each. :func:`loads_entity_texts` has msgspec parse a page's body in C into a :class:`msgspec.Raw`
per entity (a view of the body, no copy) and, in a second C pass, the few fields asked for
(numbers with a fraction or an exponent as :class:`~decimal.Decimal`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import Any, Final

import msgspec

from airflow_provider_bc.client.odata.exact_numbers import loads_exact
from airflow_provider_bc.client.odata.paging import DecodedEntities

_ANY = msgspec.json.Decoder(float_hook=Decimal)
_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_TEXTS = msgspec.json.Decoder(list[msgspec.Raw])
#: the names a struct's field may take in msgspec
_STRUCT_NAME = re.compile(r'[^\\"\x00-\x1f]*')
_UTF8_CHUNK: Final = 1 << 16


class EntityTexts(DecodedEntities):
    """A page's entities as the JSON text they were sent as (views of the answer's body, UTF-8),
    with the values of a few fields parsed beside them (:meth:`column`)."""

    __slots__ = ("_columns", "_texts", "spans_lines")

    def __init__(self, texts: list[msgspec.Raw], columns: dict[str, list[Any]], spans_lines: bool) -> None:
        self._texts, self._columns = texts, columns
        #: whether an entity's text may span lines (the answer was indented)
        self.spans_lines = spans_lines

    def __len__(self) -> int:
        return len(self._texts)

    def entity(self, index: int) -> dict[str, Any]:
        entity: dict[str, Any] = loads_exact(bytes(self._texts[index]))
        return entity

    def texts(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        """The JSON texts of entities ``start`` to ``stop`` (excluded), as sent."""
        return list(map(bytes, self._texts[start:stop]))

    def column(self, name: str) -> list[Any]:
        """Field ``name`` of each entity (``None`` where absent; only the fields parsed are here)."""
        return self._columns[name]

    def subset(self, indexes: Sequence[int]) -> EntityTexts:
        """Only the entities at ``indexes``, in that order (the body is shared, not copied)."""
        texts = self._texts
        columns = {name: [values[i] for i in indexes] for name, values in self._columns.items()}
        return EntityTexts([texts[i] for i in indexes], columns, self.spans_lines)


@lru_cache(maxsize=16)
def _rows_decoder(fields: tuple[str, ...]) -> msgspec.json.Decoder[list[Any]]:
    """Reads an array of objects into structs holding ``fields`` (``None`` where absent, others skipped)."""
    attributes = [f"f{i}" for i in range(len(fields))]
    row = msgspec.defstruct(
        "Row", [(name, Any, None) for name in attributes], rename=dict(zip(attributes, fields, strict=True))
    )
    return msgspec.json.Decoder(list[row], float_hook=Decimal)  # type: ignore[valid-type]


def _entities(body: bytes, value: msgspec.Raw, fields: tuple[str, ...]) -> Any:
    """The ``value`` array as :class:`EntityTexts`, or as ``json.loads`` reads it if it is no array of objects."""
    named = tuple(name for name in fields if _STRUCT_NAME.fullmatch(name))
    try:
        rows = _rows_decoder(named).decode(value)
    except msgspec.ValidationError:
        return _ANY.decode(value)
    texts = _TEXTS.decode(value)
    columns = {name: list(map(attrgetter(f"f{i}"), rows)) for i, name in enumerate(named)}
    if len(named) < len(fields):  # names msgspec refuses (a quote, a backslash, a control character)
        entities = [loads_exact(bytes(text)) for text in texts]
        columns |= {name: [entity.get(name) for entity in entities] for name in fields if name not in columns}
    return EntityTexts(texts, columns, _spans_lines(body, value))


def _spans_lines(body: bytes, value: msgspec.Raw) -> bool:
    """Whether ``value``, part of ``body``, has a line break (copied to search it only if ``body`` has one)."""
    return any(b in body and b in bytes(value) for b in (b"\n", b"\r"))


def _check_utf8(body: bytes) -> None:
    """Raise :class:`UnicodeDecodeError` unless ``body`` is UTF-8 (read in chunks: no copy of the whole)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    for start in range(0, len(body), _UTF8_CHUNK):
        decoder.decode(view[start : start + _UTF8_CHUNK])
    decoder.decode(b"", final=True)


def loads_entity_texts(body: bytes, fields: Iterable[str]) -> Any:
    """The JSON value in ``body`` (UTF-8) as :func:`loads_exact` reads it, except an object's ``value``
    array of objects: :class:`EntityTexts`, holding ``fields`` of each entity beside its text.

    Malformed JSON, and JSON Business Central never writes (``NaN``, ``Infinity``, a lone surrogate),
    raises a ``ValueError`` (:class:`json.JSONDecodeError` as ``json.loads`` words it); a body that
    is not UTF-8 raises :class:`UnicodeDecodeError`.
    """
    if not body.isascii():
        _check_utf8(body)  # msgspec does not check the text it skips
        body = body.removeprefix(codecs.BOM_UTF8)  # json.loads takes one
    names = tuple(dict.fromkeys(fields))
    try:
        members = _MEMBERS.decode(body)
        return {
            key: _entities(body, raw, names) if key == "value" else _ANY.decode(raw) for key, raw in members.items()
        }
    except msgspec.ValidationError:  # JSON, not an object: what json.loads makes of it
        return loads_exact(body)
    except msgspec.DecodeError as error:
        loads_exact(body)  # malformed: json.loads's own error and position
        raise ValueError(f"the answer is JSON Business Central does not write ({error})") from None
