"""Planner: a run's columns, passes and entry-number partitions, from $metadata, $count and the key edges."""

from __future__ import annotations

import datetime as dt
import re
import threading
from itertools import pairwise
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.thread_clients import ThreadClients
from airflow_provider_bc.extraction.cursors import CursorOptions, plan_window
from airflow_provider_bc.extraction.planning import PARTITIONS_PER_STREAM, Planner
from airflow_provider_bc.extraction.spec import ExtractionSpec

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
LEDGER = ("id", "entryNumber", "quantity", "postingDate", "lastModifiedDateTime")
COMPANY = "7b1e1a2c-3d4e-4f50-8162-738495a6b7c8"


def _metadata(properties: tuple[str, ...]) -> str:
    fields = "".join(f'<Property Name="{name}" Type="Edm.String"/>' for name in properties)
    return f"""<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
<Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">
<EntityType Name="entry"><Key><PropertyRef Name="id"/></Key>{fields}</EntityType>
<EntityContainer Name="NAV"><EntitySet Name="entries" EntityType="Microsoft.NAV.entry"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"""


class _Client:
    """Answers $metadata, $count (``count`` for any filter) and the key edges (``span``); records the asks."""

    def __init__(self, properties: tuple[str, ...] = LEDGER, count: int = 0, span: tuple[int, int] | None = None):
        self.properties, self.rows, self.span = properties, count, span
        self.asked: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def metadata(self) -> str:
        return _metadata(self.properties)

    def count(self, entity_set: str, *, company_id: str | None, filter: str | None) -> int:
        with self._lock:
            self.asked.append(("count", entity_set, company_id, filter))
        return self.rows

    def find_entities(self, entity_set: str, **options: Any) -> list[dict[str, Any]]:
        with self._lock:
            self.asked.append(("edge", entity_set, options["company_id"], options["filter"], options["orderby"]))
        if self.span is None:
            return []
        return [{"entryNumber": self.span[0] if options["orderby"].endswith("asc") else self.span[1]}]


def _plan(client: _Client, previous: dict[str, Any] | None = None, **spec: Any) -> Any:
    run = ExtractionSpec("entries", COMPANY, "run-1", **{"cursor": CursorOptions(kind="entry_number"), **spec})
    clients = ThreadClients(lambda: client)  # type: ignore[arg-type, return-value]
    return Planner(run, "s1", clients, "/x", lambda: NOW).plan(previous)  # type: ignore[arg-type]


def _ranges(filters: list[str | None]) -> list[tuple[int, int]]:
    return [tuple(map(int, re.findall(r"entryNumber (?:ge|lt) (\d+)", f or ""))) for f in filters]  # type: ignore[misc]


def test_a_partitioned_pass_is_cut_into_ranges_that_cover_its_span_once() -> None:
    client = _Client(count=100_000, span=(1001, 1800))
    checkpoint = _plan(client, max_streams=2, page_size=1000)
    ranges = _ranges([s.filter for s in checkpoint.streams])
    assert len(ranges) == 2 * PARTITIONS_PER_STREAM  # fewer than the 100 pages: ranges per stream
    assert ranges[0][0] == 1001 and ranges[-1][1] == 1801 and all(a[1] == b[0] for a, b in pairwise(ranges))
    assert [s.index for s in checkpoint.streams] == list(range(8)) and not any(s.restating for s in checkpoint.streams)
    assert checkpoint.plan["total"] == 100_000 and checkpoint.plan["partitioned"] is True
    assert ("edge", "entries", COMPANY, None, "entryNumber desc") in client.asked
    assert ("count", "entries", COMPANY, None) in client.asked


@pytest.mark.parametrize(("count", "parts"), [(0, 1), (3, 1), (5_001, 2), (10**6, 5 * PARTITIONS_PER_STREAM)])
def test_no_more_ranges_than_pages(count: int, parts: int) -> None:
    checkpoint = _plan(_Client(count=count, span=(1, 10**6)), page_size=5000)
    assert len(checkpoint.streams) == parts


def test_a_pass_without_rows_gets_no_partition() -> None:
    checkpoint = _plan(_Client(count=0, span=None))
    assert checkpoint.streams == [] and checkpoint.plan["total"] == 0


def test_an_entity_set_without_entry_numbers_is_read_whole_per_pass_and_no_edge_is_asked() -> None:
    client = _Client(properties=("id", "quantity", "lastModifiedDateTime"), count=10**6)
    checkpoint = _plan(client, cursor=CursorOptions(kind="last_modified"), filter="quantity gt 0")
    window = plan_window(CursorOptions(kind="last_modified"), "quantity gt 0", None, NOW)
    assert [s.filter for s in checkpoint.streams] == list(window.passes) and checkpoint.plan["partitioned"] is False
    assert checkpoint.plan["window"] == window.to_dict() and checkpoint.started == "2024-06-01T12:00:00Z"
    assert not [asked for asked in client.asked if asked[0] == "edge"]


@pytest.mark.parametrize(
    ("properties", "kind"),
    [(("id", "lastModifiedDateTime"), "entry_number"), (("id", "entryNumber"), "last_modified")],
)
def test_a_cursor_the_entity_set_cannot_follow_is_refused(properties: tuple[str, ...], kind: Any) -> None:
    with pytest.raises(BusinessCentralQueryError) as caught:
        _plan(_Client(properties=properties), cursor=CursorOptions(kind=kind))
    assert caught.value.field == "cursor"
    assert _plan(_Client(properties=properties, count=1, span=(1, 1)), cursor=CursorOptions()).plan["total"] == 1


def test_the_columns_asked_for_get_those_the_cursor_and_partitions_need() -> None:
    checkpoint = _plan(_Client(count=1, span=(1, 1)), select=("quantity", "id"))
    assert checkpoint.plan["select"] == ["quantity", "id", "entryNumber", "lastModifiedDateTime"]
    assert list(checkpoint.plan["schema"]) == ["id", "entryNumber", "quantity", "lastModifiedDateTime"]
    full = _plan(_Client(count=1, span=(1, 1)), select=("quantity",), cursor=CursorOptions())
    assert full.plan["select"] == ["quantity", "id", "entryNumber"]
    assert _plan(_Client(count=1, span=(1, 1))).plan["select"] is None  # every column
    with pytest.raises(BusinessCentralQueryError, match="nope") as caught:
        _plan(_Client(), select=("id", "nope"))
    assert caught.value.field == "select"


def test_a_restating_run_plans_the_restate_pass_after_the_cursors_and_marks_its_partitions() -> None:
    options = CursorOptions(kind="entry_number", restate_days=2, today=NOW.date())
    previous = {"run": "run-0", "cursor": {"settled": 500}}
    client = _Client(count=10, span=(400, 900))
    checkpoint = _plan(client, previous, cursor=options)
    window = plan_window(options, None, previous, NOW)
    assert [s.restating for s in checkpoint.streams] == [False, True]
    assert "entryNumber gt 500" in checkpoint.streams[0].filter and "postingDate lt" in checkpoint.streams[0].filter
    assert window.restate in checkpoint.streams[1].filter
    assert checkpoint.plan["total"] == 20 and checkpoint.plan["based_on"] == "run-0"
    assert {asked[3] for asked in client.asked if asked[0] == "count"} == {window.passes[0], window.restate}
