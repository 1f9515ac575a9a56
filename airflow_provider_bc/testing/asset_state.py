"""An asset's state store as Airflow 3.3's triggerer hands it to a watcher (``aget``/``aset``), in memory:
for driving an event trigger on an event loop in tests and benchmarks, without a triggerer."""

from __future__ import annotations

import copy
import json
from typing import Any


class MemoryAssetStateStore:
    """Keys to JSON values, refused as Airflow refuses them (``None``; values that are not JSON)."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = json.loads(json.dumps(values or {}))

    async def aget(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(self.values.get(key, default))

    async def aset(self, key: str, value: Any) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        self.values[key] = json.loads(json.dumps(value))
