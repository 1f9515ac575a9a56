"""The plan of a run: its window (from the cursor and the previous run), the columns it reads, its
passes cut into entry-number partitions, and what a resume checks it against."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.key_ranges import key_edge, range_filters
from airflow_provider_bc.client.thread_clients import ThreadClients
from airflow_provider_bc.client.wording import counted
from airflow_provider_bc.extraction.cursors import ENTRY_NUMBER, LAST_MODIFIED, iso, plan_window
from airflow_provider_bc.extraction.schema import EntityType, entity_type
from airflow_provider_bc.extraction.spec import ExtractionSpec
from airflow_provider_bc.extraction.state import Checkpoint, StreamState

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

#: partitions per stream: a stream that finishes a sparse key range early takes the next one
PARTITIONS_PER_STREAM = 4


@dataclass(frozen=True)
class Planner:
    """Plans runs of ``spec`` (series ``series``) into ``folder`` with ``clients``, at the time ``now`` gives."""

    spec: ExtractionSpec
    series: str
    clients: ThreadClients
    folder: ObjectStoragePath
    now: Callable[[], dt.datetime]

    def plan(self, previous: dict[str, Any] | None) -> Checkpoint:
        """The plan of a run continuing from ``previous`` (the manifest of its series' run, if any)."""
        spec = self.spec
        entity = entity_type(self.clients.get().metadata(), spec.entity_set)
        partitioned = ENTRY_NUMBER in entity.properties
        if spec.cursor.kind == "entry_number" and not partitioned:
            raise BusinessCentralQueryError(
                "cursor", f"{spec.entity_set} has no {ENTRY_NUMBER}; use last_modified or full"
            )
        if spec.cursor.kind != "full" and LAST_MODIFIED not in entity.properties:
            raise BusinessCentralQueryError(
                "cursor", f"{spec.entity_set} has no {LAST_MODIFIED} (when a row is settled); use full"
            )
        select = self._columns(entity, partitioned)
        window = plan_window(spec.cursor, spec.filter, previous, self.now())
        streams: list[StreamState] = []
        total = 0
        passes = [(f, False) for f in window.passes] + ([(window.restate, True)] if window.restate else [])
        for pass_filter, restating in passes:
            count, span = self._count_and_span(pass_filter, partitioned)
            total += count
            for part_filter in self._partitions(pass_filter, count, span, partitioned):
                streams.append(StreamState(len(streams), part_filter, restating))
        log.info(
            "Plan: %s of company %s, cursor %s, %s, %s, about %s, into %s",
            spec.entity_set,
            spec.company_id,
            json.dumps(window.cursor, default=str),
            counted(len(passes), "pass"),
            counted(len(streams), "partition"),
            counted(total, "row"),
            self.folder,
        )
        plan = {
            "series": self.series,
            "based_on": previous["run"] if previous else None,
            "window": window.to_dict(),
            "partitioned": partitioned,
            "total": total,
            "select": list(select) if select else None,
            "schema": dict(entity.restricted(select).properties),
        }
        return Checkpoint(plan, streams, iso(self.now()))

    def _columns(self, entity: EntityType, partitioned: bool) -> tuple[str, ...] | None:
        """The columns asked for, checked, plus those the cursor and the partitions need."""
        if self.spec.select is None:
            return None
        entity.check_fields(self.spec.select, "select")
        needed = ["id", ENTRY_NUMBER if partitioned else "", LAST_MODIFIED if self.spec.cursor.kind != "full" else ""]
        return tuple(dict.fromkeys([*self.spec.select, *(name for name in needed if name in entity.properties)]))

    def _count_and_span(self, pass_filter: str | None, partitioned: bool) -> tuple[int, tuple[int, int] | None]:
        """The pass's ``$count`` and, if partitioned, its lowest and highest ``entryNumber`` (``$top=1``
        each way): asked side by side, each by a client of its own, at most ``max_streams`` at once
        (a task holds as many requests in flight as it has streams, planning included)."""
        spec = self.spec
        ways: tuple[Literal["asc", "desc"], ...] = ("asc", "desc") if partitioned else ()
        with ThreadPoolExecutor(min(3, spec.max_streams), thread_name_prefix="bc-plan") as pool:
            count = pool.submit(
                lambda: self.clients.get().count(spec.entity_set, company_id=spec.company_id, filter=pass_filter)
            )
            edges = [pool.submit(self._edge, way, pass_filter) for way in ways]
            low, high = [edge.result() for edge in edges] or [None, None]
            return count.result(), None if low is None or high is None else (low, high)

    def _edge(self, way: Literal["asc", "desc"], pass_filter: str | None) -> int | None:
        spec = self.spec
        return key_edge(self.clients.get(), spec.entity_set, way, company_id=spec.company_id, filter=pass_filter)

    def _partitions(
        self, pass_filter: str | None, count: int, span: tuple[int, int] | None, partitioned: bool
    ) -> list[str | None]:
        """The pass cut into entry-number ranges: more ranges than streams (a stream done early with a
        sparse range takes another), and no more than one per page."""
        if not partitioned:
            return [pass_filter]  # read whatever $count said: it is for progress, never for correctness
        if span is None:
            return []
        pages = math.ceil(max(count, 1) / self.spec.page_size)
        parts = max(1, min(self.spec.max_streams * PARTITIONS_PER_STREAM, pages))
        return list(range_filters(*span, parts, pass_filter))
