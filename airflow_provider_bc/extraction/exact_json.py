"""JSON text of API rows that keeps every number exactly as the API wrote it.

Rows are read with decimals as :class:`decimal.Decimal` (``iter_pages(exact_numbers=True)``);
``str(Decimal)`` gives back the API's text (``12.50`` stays ``12.50``), which ``json.dumps``
cannot write without turning it into a float or a string.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

_plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def dumps(value: Any) -> str:
    """Compact JSON for ``value``, decimals written with their own digits."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_plain(key)}:{dumps(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return _plain(value)


def loads(text: str | bytes) -> Any:
    """Parse JSON written by :func:`dumps` (or the API) with decimals as :class:`~decimal.Decimal`."""
    return json.loads(text, parse_float=Decimal)
