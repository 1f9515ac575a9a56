"""JSON answers whose entities keep the exact text they were parsed from.

A bulk extraction writes rows as the API sent them: parsing each page once with the C scanner
and slicing every entity's text out of the body is cheaper than writing it back out of Python
objects, and keeps every digit (see :func:`loads_keeping_text`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SPACE = frozenset(" \t\n\r")


class EntityText(dict[str, Any]):
    """An entity (a ``dict``: all its fields, or those asked for) that also holds ``text``: the JSON
    of the whole entity, as sent."""

    __slots__ = ("text",)

    def __init__(self, entity: dict[str, Any], text: str) -> None:
        super().__init__(entity)
        self.text = text


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _expect(text: str, index: int, character: str) -> int:
    if not text.startswith(character, index):
        raise json.JSONDecodeError(f"Expecting {character!r}", text, index)
    return _skip(text, index + 1)


def _array_of_entities(
    decoder: json.JSONDecoder, text: str, index: int, fields: tuple[str, ...] | None
) -> tuple[list[Any], int]:
    items: list[Any] = []
    index = _expect(text, index, "[")
    if text.startswith("]", index):
        return items, index + 1
    # the C scanner that raw_decode wraps (typeshed omits the attribute): a frame and a regex match less per item
    scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]
    while True:
        start = index
        try:
            item, index = scan(text, index)
        except StopIteration as stop:
            raise json.JSONDecodeError("Expecting value", text, stop.value) from None
        if isinstance(item, dict):
            item = EntityText(item if fields is None else {f: item[f] for f in fields if f in item}, text[start:index])
        items.append(item)
        separator = text[index : index + 1]
        if separator == ",":  # compact JSON, as the API sends it
            index += 1
            if text[index : index + 1] in _SPACE:
                index = _skip(text, index)
            continue
        index = _skip(text, index)
        if text.startswith("]", index):
            return items, index + 1
        index = _expect(text, index, ",")


def loads_keeping_text(text: str, parse_float: Callable[[str], Any], fields: tuple[str, ...] | None = None) -> Any:
    """``json.loads(text, parse_float=...)``, except that the objects of a top-level ``value``
    array are :class:`EntityText` (each holding its own JSON text, and only ``fields`` when given).
    Malformed JSON raises :class:`json.JSONDecodeError`, as ``json.loads`` does."""
    decoder = json.JSONDecoder(parse_float=parse_float)
    index = _skip(text, 0)
    if not text.startswith("{", index):
        return decoder.decode(text)
    result: dict[str, Any] = {}
    index = _skip(text, index + 1)
    if text.startswith("}", index):
        index += 1
    else:
        while True:
            key, index = decoder.raw_decode(text, index)
            if not isinstance(key, str):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, index)
            index = _expect(text, _skip(text, index), ":")
            if key == "value" and text.startswith("[", index):
                result[key], index = _array_of_entities(decoder, text, index, fields)
            else:
                result[key], index = decoder.raw_decode(text, index)
            index = _skip(text, index)
            if text.startswith("}", index):
                index += 1
                break
            index = _expect(text, index, ",")
    if _skip(text, index) != len(text):
        raise json.JSONDecodeError("Extra data", text, index)
    return result
