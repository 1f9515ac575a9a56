"""Where a watcher keeps its watermark and the events not yet confirmed: the asset's state store on
Airflow 3.3 (the triggerer hands it to the trigger), else memory (lost on restart, said in the log)."""

from __future__ import annotations

import asyncio
from typing import Any

#: the state store's key of a watcher's ``{"through": <watermark>, "pending": [<event payloads>]}``
STATE_KEY = "business_central_watermark"


class WatermarkStore:
    """A watcher's watermark and pending events, in ``asset_state_store`` when there is one."""

    def __init__(self, asset_state_store: Any, log: Any) -> None:
        self._store = asset_state_store
        self._log = log

    async def load(self) -> tuple[Any, list[dict[str, Any]]]:
        """The watermark (``None``: none stored) and the events signalled but not yet confirmed."""
        state = await self._call("get", STATE_KEY, None) if self._store is not None else None
        if self._store is None:
            self._log.warning(
                "No asset state store (Airflow before 3.3): the watermark is kept in memory; after a triggerer "
                "restart this watcher starts again from its start"
            )
        if not isinstance(state, dict):
            return None, []
        pending = state.get("pending")
        return state.get("through"), [p for p in pending if isinstance(p, dict)] if isinstance(pending, list) else []

    async def save(self, through: Any, pending: list[dict[str, Any]]) -> None:
        """Keep the watermark ``through`` and the ``pending`` events (written before they are signalled)."""
        if self._store is not None:  # else the watcher's own variables are all there is
            await self._call("set", STATE_KEY, {"through": through, "pending": pending})

    async def _call(self, method: str, *args: Any) -> Any:
        """The store's async method (``aget``/``aset``, Airflow 3.3.2), else its blocking one in a thread."""
        store = self._store
        try:
            if hasattr(store, f"a{method}"):
                return await getattr(store, f"a{method}")(*args)
            return await asyncio.to_thread(getattr(store, method), *args)
        except ValueError as error:  # one trigger watching several assets: the store needs the asset named
            self._log.error(
                "The asset state store refused %s (%s): give each asset's watcher its own arguments (e.g. its own "
                "poll_interval) so that one trigger watches one asset; keeping the watermark in memory",
                method,
                error,
            )
            self._store = None
            return None
