"""Triggers that poll Business Central asynchronously until an entity, or a set of them, exists."""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from typing_extensions import Self

from airflow_provider_bc.client.batch.lookup import BatchLookup, Progress
from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.tasks.outcomes import may_succeed_later

if TYPE_CHECKING:
    from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient


class _PollingTrigger(BaseTrigger):
    """Check every ``poll_interval`` seconds until :meth:`_check` finds what is awaited, an error
    that waiting cannot fix, or ``timeout_at`` (epoch seconds). Every trigger of a connection in a
    triggerer shares one client (one connection pool, one token cache, one governor: at most 5
    requests in flight per principal)."""

    def __init__(self, business_central_conn_id: str, poll_interval: float, timeout_at: float | None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.business_central_conn_id = business_central_conn_id
        self.poll_interval = poll_interval
        self.timeout_at = timeout_at

    @classmethod
    def waiting_for(
        cls, lookup: Any, *, business_central_conn_id: str, poll_interval: float, timeout: float, **options: Any
    ) -> Self:
        """A trigger for ``lookup`` polling every ``poll_interval`` seconds for at most ``timeout``
        seconds from now (``options``: further arguments of the trigger)."""
        return cls(  # type: ignore[call-arg]  # every trigger below takes these keywords
            business_central_conn_id=business_central_conn_id,
            lookup=lookup,
            poll_interval=poll_interval,
            timeout_at=time.time() + timeout,
            **options,
        )

    @abstractmethod
    def _awaited(self) -> dict[str, Any]:
        """The serialized arguments naming what is awaited (plain data, no secret)."""

    @abstractmethod
    async def _check(self, client: AsyncBusinessCentralClient) -> dict[str, Any] | None:
        """One check: the success event's fields once found, else ``None``."""

    @abstractmethod
    def _not_yet(self) -> str:
        """What is still awaited, for the log and the timeout's message."""

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "business_central_conn_id": self.business_central_conn_id,
                **self._awaited(),
                "poll_interval": self.poll_interval,
                "timeout_at": self.timeout_at,
            },
        )

    def _remaining(self) -> float | None:
        return None if self.timeout_at is None else self.timeout_at - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_bc.triggers.shared_clients import shared_async_client

        try:
            settings = await BusinessCentralHook(self.business_central_conn_id).aget_settings()
        except BusinessCentralError as error:
            yield TriggerEvent({"status": "error", "message": str(error)})
            return
        async with shared_async_client(settings) as client:  # one per connection for the whole triggerer
            check = 0
            while True:
                check += 1
                try:
                    found = await self._check(client)
                except BusinessCentralError as error:
                    if not may_succeed_later(error):
                        yield TriggerEvent({"status": "error", "message": str(error)})
                        return
                    self.log.warning("Check %d failed, will poll again: %s", check, error)
                    found = None
                if found is not None:
                    yield TriggerEvent({"status": "success", **found})
                    return
                remaining = self._remaining()
                if remaining is not None and remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "message": f"timed out: {self._not_yet()}"})
                    return
                wait = self.poll_interval if remaining is None else min(self.poll_interval, remaining)
                self.log.info("%s (check %d); next check in %.1f s", self._not_yet(), check, wait)
                await asyncio.sleep(wait)


class BusinessCentralEntityTrigger(_PollingTrigger):
    """Fire once the entity of ``lookup`` exists (by id, or any entity matching its filter).

    Events: ``{"status": "success", "records": [...]}``, ``{"status": "timeout", ...}`` once
    ``timeout_at`` (epoch seconds) passes, or ``{"status": "error", "message": ...}`` on an error
    that waiting cannot fix (credentials, permissions, malformed request). Transient errors are
    logged and polling goes on. Only the connection id and the lookup are serialized, never a secret.
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
        super().__init__(business_central_conn_id, poll_interval, timeout_at)
        if lookup is None:
            lookup = Lookup.build(**before_0_2)
        elif before_0_2:
            raise TypeError(f"unexpected arguments {sorted(before_0_2)} beside lookup")
        self.lookup = lookup if isinstance(lookup, Lookup) else Lookup.from_dict(lookup)

    def _awaited(self) -> dict[str, Any]:
        return {"lookup": self.lookup.to_dict()}

    async def _check(self, client: AsyncBusinessCentralClient) -> dict[str, Any] | None:
        records = await client.lookup(self.lookup, time_budget=self._remaining())
        return {"records": records} if records else None

    def _not_yet(self) -> str:
        return f"{self.lookup.describe()} not there yet"


class BusinessCentralEntitiesTrigger(_PollingTrigger):
    """Fire once the entities of ``lookup`` exist: every id or value, or ``min_found`` of them.

    Each check asks, in ``$batch`` requests, only for the ids or values still missing (those found
    are kept) and logs which are missing. Events as :class:`BusinessCentralEntityTrigger`'s; success:
    ``{"status": "success", "found": [[id or value, entity or matches], ...]}`` (pairs: an event's
    dict keys would become text). Only the connection id, the lookup (entity set, ids or values,
    company, select), ``min_found`` and the timing are serialized, never a secret.
    """

    def __init__(
        self,
        *,
        business_central_conn_id: str,
        lookup: BatchLookup | Mapping[str, Any],
        min_found: int | None = None,
        poll_interval: float = 60.0,
        timeout_at: float | None = None,
    ) -> None:
        super().__init__(business_central_conn_id, poll_interval, timeout_at)
        self.lookup = lookup if isinstance(lookup, BatchLookup) else BatchLookup.from_dict(lookup)
        self.min_found = min_found
        self.progress = Progress(self.lookup, min_found)

    def _awaited(self) -> dict[str, Any]:
        return {"lookup": self.lookup.to_dict(), "min_found": self.min_found}

    async def _check(self, client: AsyncBusinessCentralClient) -> dict[str, Any] | None:
        self.progress.take(await client.read_keys(self.lookup, self.progress.missing(), time_budget=self._remaining()))
        return {"found": [list(pair) for pair in self.progress.result().items()]} if self.progress.done else None

    def _not_yet(self) -> str:
        return self.progress.report()
