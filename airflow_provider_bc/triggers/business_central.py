"""Trigger that polls Business Central asynchronously until an entity exists."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.lookup import Lookup
from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.outcomes import may_succeed_later


class BusinessCentralEntityTrigger(BaseTrigger):
    """Fire once the entity of ``lookup`` exists (by id, or any entity matching its filter).

    Events: ``{"status": "success", "records": [...]}``, ``{"status": "timeout", ...}`` once
    ``timeout_at`` (epoch seconds) passes, or ``{"status": "error", "message": ...}`` on an error
    that waiting cannot fix (credentials, permissions, malformed request). Transient errors are
    logged and polling goes on. Only the connection id and the lookup are serialized, never a secret.
    Every trigger of a connection in a triggerer shares one client (one connection pool, one token
    cache, one governor: at most 5 requests in flight per principal).
    """

    def __init__(
        self,
        *,
        business_central_conn_id: str,
        lookup: Lookup | Mapping[str, Any] | None = None,
        poll_interval: float = 60.0,
        timeout_at: float | None = None,
        **before_0_2: Any,
    ) -> None:
        """``before_0_2``: ``entity_set``, ``entity_id``, ``filter``, ... as triggers deferred by
        version 0.1 were stored; they are read into a :class:`Lookup`, so an upgrade while sensors
        wait does not fail them."""
        super().__init__()  # type: ignore[no-untyped-call]
        self.business_central_conn_id = business_central_conn_id
        if lookup is None:
            lookup = Lookup.build(**before_0_2)
        elif before_0_2:
            raise TypeError(f"unexpected arguments {sorted(before_0_2)} beside lookup")
        self.lookup = lookup if isinstance(lookup, Lookup) else Lookup.from_dict(lookup)
        self.poll_interval = poll_interval
        self.timeout_at = timeout_at

    @classmethod
    def waiting_for(
        cls, lookup: Lookup, *, business_central_conn_id: str, poll_interval: float, timeout: float
    ) -> BusinessCentralEntityTrigger:
        """A trigger polling every ``poll_interval`` seconds for at most ``timeout`` seconds from now."""
        return cls(
            business_central_conn_id=business_central_conn_id,
            lookup=lookup,
            poll_interval=poll_interval,
            timeout_at=time.time() + timeout,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "business_central_conn_id": self.business_central_conn_id,
                "lookup": self.lookup.to_dict(),
                "poll_interval": self.poll_interval,
                "timeout_at": self.timeout_at,
            },
        )

    def _remaining(self) -> float | None:
        return None if self.timeout_at is None else self.timeout_at - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_bc.client.shared_clients import shared_async_client

        try:
            settings = await BusinessCentralHook(self.business_central_conn_id).aget_settings()
        except BusinessCentralError as error:
            yield TriggerEvent({"status": "error", "message": str(error)})
            return
        described = self.lookup.describe()
        async with shared_async_client(settings) as client:  # one per connection for the whole triggerer
            check = 0
            while True:
                check += 1
                try:
                    records = await client.lookup(self.lookup, time_budget=self._remaining())
                except BusinessCentralError as error:
                    if not may_succeed_later(error):
                        yield TriggerEvent({"status": "error", "message": str(error)})
                        return
                    self.log.warning("Check %d for %s failed, will poll again: %s", check, described, error)
                    records = []
                if records:
                    yield TriggerEvent({"status": "success", "records": records})
                    return
                remaining = self._remaining()
                if remaining is not None and remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "message": f"{described} did not appear in time"})
                    return
                wait = self.poll_interval if remaining is None else min(self.poll_interval, remaining)
                self.log.info("%s not there yet (check %d); next check in %.1f s", described, check, wait)
                await asyncio.sleep(wait)
