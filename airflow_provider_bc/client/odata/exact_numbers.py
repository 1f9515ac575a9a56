"""Answers read with every number exactly as the API wrote it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def loads_exact(data: str | bytes) -> Any:
    """``json.loads`` with decimals as :class:`~decimal.Decimal` (the API's number text kept)."""
    return json.loads(data, parse_float=Decimal)
