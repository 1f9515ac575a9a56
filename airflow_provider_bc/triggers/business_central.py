"""Trigger that polls Business Central asynchronously until an entity exists."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.hooks.business_central import BusinessCentralHook


class BusinessCentralEntityTrigger(BaseTrigger):
    """Fire once an entity with ``entity_id``, or any matching ``filter``, exists.

    Events: ``{"status": "success", "records": [...]}``, ``{"status": "timeout", ...}`` once
    ``timeout_at`` (epoch seconds) passes, or ``{"status": "error", "message": ...}`` on an error
    that waiting cannot fix (credentials, permissions, malformed request). Transient errors are
    logged and polling goes on. Only the connection id is serialized, never a secret.
    """

    def __init__(
        self,
        *,
        business_central_conn_id: str,
        entity_set: str,
        entity_id: str | None = None,
        filter: str | None = None,
        company_id: str | None = None,
        select: Sequence[str] | str | None = None,
        top: int = 1,
        poll_interval: float = 60.0,
        timeout_at: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.business_central_conn_id = business_central_conn_id
        self.entity_set = entity_set
        self.entity_id = entity_id
        self.filter = filter
        self.company_id = company_id
        self.select = select if select is None or isinstance(select, str) else list(select)
        self.top = top
        self.poll_interval = poll_interval
        self.timeout_at = timeout_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "business_central_conn_id": self.business_central_conn_id,
                "entity_set": self.entity_set,
                "entity_id": self.entity_id,
                "filter": self.filter,
                "company_id": self.company_id,
                "select": self.select,
                "top": self.top,
                "poll_interval": self.poll_interval,
                "timeout_at": self.timeout_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient

        try:
            settings = await BusinessCentralHook(self.business_central_conn_id).aget_settings()
        except BusinessCentralError as error:
            yield TriggerEvent({"status": "error", "message": str(error)})
            return
        async with AsyncBusinessCentralClient(settings) as client:
            attempt = 0
            while True:
                attempt += 1
                try:
                    records = await client.lookup(
                        self.entity_set,
                        entity_id=self.entity_id,
                        filter=self.filter,
                        company_id=self.company_id,
                        select=self.select,
                        top=self.top,
                    )
                except BusinessCentralError as error:
                    if not error.transient:
                        yield TriggerEvent({"status": "error", "message": str(error)})
                        return
                    self.log.warning("Check %d of %s failed, will poll again: %s", attempt, self.entity_set, error)
                    records = []
                if records:
                    yield TriggerEvent({"status": "success", "records": records})
                    return
                remaining = None if self.timeout_at is None else self.timeout_at - time.time()
                if remaining is not None and remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "message": f"{self._describe()} did not appear in time"})
                    return
                wait = self.poll_interval if remaining is None else min(self.poll_interval, remaining)
                self.log.info("%s not there yet (check %d); next check in %.1f s", self._describe(), attempt, wait)
                await asyncio.sleep(wait)

    def _describe(self) -> str:
        key = f"({self.entity_id})" if self.entity_id else f" matching {self.filter!r}"
        return f"{self.entity_set}{key}"
