"""``BusinessCentralNewEntitiesTrigger``: an event trigger for Airflow 3 asset watchers, fired when
entries are posted in Business Central (which has no webhook for them), by polling.

It fires **only when its watermark moves**, never because rows exist: each event covers the range
``(from, to]`` of the watermark field (``entryNumber`` for ledgers, ``lastModifiedDateTime``
otherwise) that can no longer change (:mod:`airflow_provider_bc.extraction.frontier`: a number a
posting still holds is signalled when it commits, not skipped), and the next event starts where it
ended. A quiet company produces no event.

Where the watermark lives:

* Airflow 3.3: in the asset's state store. Before an event is handed to Airflow it is written there
  as pending; at the next poll (the event stored by then) the watermark moves past it. A triggerer
  that dies in between signals the pending range again after its restart, **the same range with the
  same** ``idempotency_key``: nothing is lost, and a consumer drops the repeat by its key (Airflow
  stores the event and the state in separate transactions: no trigger can make it exactly once).
* Airflow 3.0–3.2 (no state store): in memory; after a restart the watcher starts again from
  ``start`` (by default the newest settled entry: what was posted while the triggerer was down is
  not signalled) and its log says so.
* Airflow 2: the class imports, but making one raises: asset watchers need Airflow 3.

Watchers of the same connection, company, entity set, filter, watermark field and poll interval
share one poll in a triggerer (Airflow 3.3's shared streams: one ``$top=1`` probe a poll, and one
read of what is new for all the watchers at the same watermark), through the triggerer's shared
client and governor (at most 5 requests in flight per principal).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Hashable
from contextlib import aclosing
from dataclasses import astuple
from typing import Any

from airflow.providers.common.compat.triggers import BaseEventTrigger
from airflow.triggers.base import TriggerEvent

from airflow_provider_bc.client.entity_sets import ITEM_LEDGER_ENTRIES
from airflow_provider_bc.client.errors import BusinessCentralError, BusinessCentralQueryError
from airflow_provider_bc.client.odata.filters import all_of, clause
from airflow_provider_bc.client.values import CompanyId, EntitySet
from airflow_provider_bc.extraction.cursors import (
    DEFAULT_COMMIT_LAG,
    ENTRY_NUMBER,
    LAST_MODIFIED,
    iso,
    parse_datetime,
    time_order_key,
)
from airflow_provider_bc.extraction.frontier import frontier, horizon
from airflow_provider_bc.hooks.names import DEFAULT_CONN_ID
from airflow_provider_bc.tasks.outcomes import may_succeed_later
from airflow_provider_bc.triggers.entity_polls import MAX_ROWS, Tick, Watched, ticks
from airflow_provider_bc.triggers.watermark_store import WatermarkStore

WATERMARK_FIELDS = (ENTRY_NUMBER, LAST_MODIFIED)


def _seconds(value: Any, argument: str, *, zero_ok: bool) -> float:
    """``value`` as a finite number of seconds, above 0 (or at 0 when ``zero_ok``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise BusinessCentralQueryError(argument, f"must be a number of seconds, got {value!r}")
    if value == 0 and not zero_ok:
        raise BusinessCentralQueryError(argument, "must be above 0 seconds")
    return float(value)


def _event_triggers_supported() -> bool:
    import airflow.triggers.base

    return hasattr(airflow.triggers.base, "BaseEventTrigger")


class BusinessCentralNewEntitiesTrigger(BaseEventTrigger):
    """Fire when entities of ``entity_set`` in company ``company_id`` (matching ``filter``) are posted
    or changed: an event per move of the watermark, ``{"connection", "company_id", "entity_set",
    "watermark_field", "from", "to", "count", "filter", "idempotency_key"}``, where ``filter`` is the
    OData filter of exactly the entities signalled (``from`` excluded, ``to`` included).

    :param watermark_field: ``entryNumber`` (default for ledger entity sets) or ``lastModifiedDateTime``
    :param poll_interval: seconds between polls
    :param commit_lag: seconds a posting may stay uncommitted (with clock skew); a number a posting
        holds is waited for at most this long before it is taken for a gap
    :param start: with no watermark stored yet: ``"newest"`` (the newest settled entry; what follows is
        signalled), or the watermark to signal entities after (an entry number, or an ISO time)
    """

    def __init__(
        self,
        *,
        company_id: str,
        entity_set: str = ITEM_LEDGER_ENTRIES,
        business_central_conn_id: str = DEFAULT_CONN_ID,
        filter: str | None = None,
        watermark_field: str | None = None,
        poll_interval: float = 60.0,
        commit_lag: float = DEFAULT_COMMIT_LAG.total_seconds(),
        start: int | str = "newest",
    ) -> None:
        if not _event_triggers_supported():
            raise BusinessCentralQueryError(
                "BusinessCentralNewEntitiesTrigger",
                "needs Airflow 3.0 or later: asset watchers (AssetWatcher) do not exist in Airflow 2; "
                "use BusinessCentralEntitySensor in a scheduled DAG instead",
            )
        super().__init__()  # type: ignore[no-untyped-call]
        self.company_id = str(CompanyId.of(company_id))
        self.entity_set = str(EntitySet.of(entity_set))
        self.business_central_conn_id = business_central_conn_id
        self.filter = filter or None
        field = watermark_field or (ENTRY_NUMBER if self.entity_set.endswith("LedgerEntries") else LAST_MODIFIED)
        if field not in WATERMARK_FIELDS:
            raise BusinessCentralQueryError(
                "watermark_field", f"must be one of {', '.join(WATERMARK_FIELDS)}, got {field!r}"
            )
        self.watermark_field = field
        self.poll_interval = _seconds(poll_interval, "poll_interval", zero_ok=False)
        self.commit_lag = _seconds(commit_lag, "commit_lag", zero_ok=True)
        self.start = start if start == "newest" else self._watermark(start, "start")

    def _watermark(self, value: Any, argument: str) -> Any:
        """``value`` as a watermark of the field: a whole entry number, or an ISO time in Business Central's form."""
        if self.watermark_field == ENTRY_NUMBER:
            try:
                number = int(str(value).strip()) if not isinstance(value, bool) else None
            except ValueError:
                number = None
            if number is None or number < 0:
                raise BusinessCentralQueryError(
                    argument, f"must be an entry number (0 or more) or 'newest', got {value!r}"
                )
            return number
        return iso(parse_datetime(value, argument))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "company_id": self.company_id,
                "entity_set": self.entity_set,
                "business_central_conn_id": self.business_central_conn_id,
                "filter": self.filter,
                "watermark_field": self.watermark_field,
                "poll_interval": self.poll_interval,
                "commit_lag": self.commit_lag,
                "start": self.start,
            },
        )

    def _watched(self) -> Watched:
        return Watched(
            self.business_central_conn_id,
            self.company_id,
            self.entity_set,
            self.filter,
            self.watermark_field,
            self.poll_interval,
        )

    def shared_stream_key(self) -> Hashable | None:
        return ("business-central-new-entities", *astuple(self._watched()))

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        trigger = cls(**kwargs)
        async for tick in ticks(trigger._watched(), trigger.log):
            yield tick

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """The watcher alone (Airflow before 3.3, or outside a triggerer): its own poll."""
        async with aclosing(ticks(self._watched(), self.log)) as own:  # its client let go when cancelled
            async for event in self.filter_shared_stream(own):
                yield event

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        store = WatermarkStore(getattr(self, "asset_state_store", None), self.log)
        through, pending = await store.load()
        for payload in pending:  # a restart may have cut these off before Airflow stored them
            self.log.warning(
                "Signalling again range %s..%s of %s (idempotency_key %s): the triggerer stopped before it was "
                "confirmed; a consumer that has it drops the repeat by its key",
                payload["from"],
                payload["to"],
                self.entity_set,
                payload["idempotency_key"],
            )
            yield TriggerEvent(payload)
        if pending:
            through = pending[-1]["to"]
        uncommitted = list(pending)
        async for tick in shared_stream:
            if uncommitted:  # Airflow has stored them by now: one poll later
                await store.save(through, [])
                uncommitted = []
            if through is None:
                through = await self._starting_point(tick)
                if through is None:
                    continue
            try:
                moved = await self._moved(tick, through)
            except BusinessCentralError as error:
                level = self.log.warning if may_succeed_later(error) else self.log.error
                level("Reading what is new in %s failed; trying again at the next poll: %s", self.entity_set, error)
                continue
            if moved is None:
                continue
            payload = moved
            uncommitted.append(payload)
            await store.save(through, uncommitted)
            self.log.info(
                "New %s: %d with %s %s..%s",
                self.entity_set,
                payload["count"],
                self.watermark_field,
                payload["from"],
                payload["to"],
            )
            yield TriggerEvent(payload)
            through = payload["to"]

    async def _starting_point(self, tick: Tick) -> Any:
        """The watermark a watcher with none stored starts from: ``start``, or the newest settled one."""
        if self.start != "newest":
            self.log.warning(
                "No watermark stored for this watcher: signalling %s after %s %s (start)",
                self.entity_set,
                self.watermark_field,
                self.start,
            )
            return self.start
        limit = horizon(tick.at, dt.timedelta(seconds=self.commit_lag))
        if self.watermark_field == LAST_MODIFIED:
            found: Any = limit
        elif tick.highest is None:
            found = 0
        else:
            try:
                found = await tick.reads.newest_settled(limit)
            except BusinessCentralError as error:
                self.log.warning("Finding the newest settled entry failed; trying again at the next poll: %s", error)
                return None
        self.log.warning(
            "No watermark stored for this watcher (a first start, or Airflow before 3.3 after a restart): "
            "signalling %s after %s %s, the newest settled; earlier ones are not signalled",
            self.entity_set,
            self.watermark_field,
            found,
        )
        return found

    async def _moved(self, tick: Tick, through: Any) -> dict[str, Any] | None:
        """The event's payload when the watermark moves past ``through`` at this tick, else ``None``."""
        field = self.watermark_field
        if tick.highest is None or self._not_after(tick.highest, through):
            return None  # the probe alone: nothing above the watermark
        limit = horizon(tick.at, dt.timedelta(seconds=self.commit_lag))
        rows = await tick.reads.rows_after(through)
        if field == ENTRY_NUMBER:
            to: Any = frontier(through, rows, limit)
            count = sum(through < row.number <= to for row in rows)
        else:
            to = limit
            if len(rows) >= MAX_ROWS:  # a read cut short: up to the last time it holds every row of
                cut = rows[-1].stamped
                to = max([through, *(r.stamped for r in rows if not self._not_after(cut, r.stamped))], key=self._key)
                to = min(to, limit, key=self._key)
            count = sum(self._not_after(row.stamped, to) for row in rows)
        if count == 0 or self._not_after(to, through):
            return None
        return self._payload(through, to, count)

    def _key(self, value: Any) -> Any:
        """``value`` as it orders: an entry number, or a time's text padded to sort as the time."""
        return value if self.watermark_field == ENTRY_NUMBER else time_order_key(value, self.watermark_field)

    def _not_after(self, value: Any, other: Any) -> bool:
        return bool(self._key(value) <= self._key(other))

    def _payload(self, after: Any, to: Any, count: int) -> dict[str, Any]:
        field = self.watermark_field
        bounds = (after, to) if field == ENTRY_NUMBER else (parse_datetime(after, field), parse_datetime(to, field))
        where = all_of([self.filter or "", clause(field, "gt", bounds[0]), clause(field, "le", bounds[1])])
        identity = json.dumps([*astuple(self._watched())[:4], field, after, to])
        return {
            "connection": self.business_central_conn_id,
            "company_id": self.company_id,
            "entity_set": self.entity_set,
            "watermark_field": field,
            "from": after,
            "to": to,
            "count": count,
            "filter": where,
            "idempotency_key": f"{after}-{to}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}",
        }
