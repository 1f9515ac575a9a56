"""One extraction run: plan the passes and partitions, read them in parallel streams, write the
part files page by page, checkpoint each completed file, and write the manifest last."""

from __future__ import annotations

import datetime as dt
import errno
import importlib.util
import json
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from airflow_provider_bc import __version__
from airflow_provider_bc.client.errors import BusinessCentralDestinationError, BusinessCentralQueryError
from airflow_provider_bc.extraction.cursors import (
    ENTRY_NUMBER,
    LAST_MODIFIED,
    CursorOptions,
    Window,
    iso,
    latest,
    parse_datetime,
    plan_window,
    time_order_key,
)
from airflow_provider_bc.extraction.files import (
    FORMATS,
    PARQUET_COMPRESSION,
    OutputFormat,
    PageRows,
    PartWriter,
    open_part,
    page_reader,
    part_name,
)
from airflow_provider_bc.extraction.memory import flat_memory
from airflow_provider_bc.extraction.partitions import key_edge, range_filters
from airflow_provider_bc.extraction.progress import Progress
from airflow_provider_bc.extraction.rows import checked_rows
from airflow_provider_bc.extraction.schema import EntityType, entity_type
from airflow_provider_bc.extraction.series import series_id, source_of
from airflow_provider_bc.extraction.state import (
    Checkpoint,
    StreamState,
    company_folder,
    folder_name,
    previous_manifest,
    read_manifest,
    series_manifests,
    write_manifest,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_bc.client.client import BusinessCentralClient
    from airflow_provider_bc.client.paging import Page

log = logging.getLogger(__name__)

#: object storage failures a retry cannot cure: access refused, a missing bucket, a file where a folder goes
PERMANENT_OS_ERRORS = (PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError)
#: the same told by errno alone: a read-only file system, a name too long
PERMANENT_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG})
MAX_STREAMS = 5  # Business Central runs 5 requests of a principal at once and queues the rest
MAX_PAGE_SIZE = 20_000  # Business Central's largest page
#: partitions per stream: a stream that finishes a sparse key range early takes the next one
PARTITIONS_PER_STREAM = 4

#: the fields the run reads of each row (cursor state, the skip of rows a previous run took)
ROW_FIELDS_READ = ("id", ENTRY_NUMBER, LAST_MODIFIED)

_Item = TypeVar("_Item")


def read_ahead(items: Iterator[_Item]) -> Iterator[_Item]:
    """The items of ``items``, each next one fetched in a thread while the caller handles the last
    (a stream writes a page while the next downloads: at most two pages in memory per stream)."""
    fetcher = ThreadPoolExecutor(1, thread_name_prefix="bc-read-ahead")
    try:
        upcoming = fetcher.submit(next, items, None)
        while (item := upcoming.result()) is not None:
            upcoming = fetcher.submit(next, items, None)
            yield item
            del item  # not held while the next one downloads
    finally:
        # a fetch still running when the caller stops ends on its own (its answer is not used)
        fetcher.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class ExtractionSpec:
    """What to extract, where from, and how to write it."""

    entity_set: str
    company_id: str
    run_name: str
    filter: str | None = None
    select: tuple[str, ...] | None = None
    output_format: OutputFormat = "ndjson"
    compress: bool = True
    rows_per_file: int = 100_000
    max_streams: int = MAX_STREAMS
    page_size: int = 5_000
    cursor: CursorOptions = field(default_factory=CursorOptions)

    def __post_init__(self) -> None:
        if self.output_format not in FORMATS:
            raise BusinessCentralQueryError("format", f"{self.output_format!r} is not one of {', '.join(FORMATS)}")
        if self.output_format == "parquet" and importlib.util.find_spec("pyarrow") is None:
            raise BusinessCentralQueryError(
                "format", "parquet needs pyarrow: pip install 'airflow-provider-business-central[parquet]'"
            )
        if not isinstance(self.max_streams, int) or not 1 <= self.max_streams <= MAX_STREAMS:
            raise BusinessCentralQueryError("max_streams", f"must be 1 to {MAX_STREAMS}, got {self.max_streams!r}")
        if not isinstance(self.rows_per_file, int) or self.rows_per_file < 1:
            raise BusinessCentralQueryError("rows_per_file", f"must be a positive number, got {self.rows_per_file!r}")
        if type(self.page_size) is not int or not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise BusinessCentralQueryError("page_size", f"must be 1 to {MAX_PAGE_SIZE:,}, got {self.page_size!r}")

    @property
    def query(self) -> dict[str, Any]:
        """What the rows of a run are, besides their source: company, entity set, filter, columns, cursor, format."""
        return {
            "company_id": self.company_id.lower(),
            "entity_set": self.entity_set,
            "filter": self.filter,
            "select": list(self.select) if self.select is not None else None,
            "cursor": self.cursor.kind,
            "format": self.output_format,
        }


class Extraction:
    """Runs one :class:`ExtractionSpec` into ``destination``; ``new_client`` makes one client per stream."""

    def __init__(
        self,
        spec: ExtractionSpec,
        destination: ObjectStoragePath,
        new_client: Callable[[], BusinessCentralClient],
        *,
        progress_every: float = 10.0,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ) -> None:
        self.spec = spec
        self.company = company_folder(destination, spec.entity_set, spec.company_id)
        self.folder = self.company / folder_name(spec.run_name)
        self._new_client = new_client
        self._progress_every = progress_every
        self._now = now
        self._lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[BusinessCentralClient] = []
        self.source = source_of(self._client().settings)
        self.series = series_id(self.source, spec.query)

    # ----- planning -----

    def _plan(self, client: BusinessCentralClient, previous: dict[str, Any] | None) -> Checkpoint:
        spec = self.spec
        entity = entity_type(client.metadata(), spec.entity_set)
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
        window = plan_window(spec.cursor, spec.filter, previous, self._now())
        streams: list[StreamState] = []
        total = 0
        passes = [(f, False) for f in window.passes] + ([(window.restate, True)] if window.restate else [])
        for pass_filter, restating in passes:
            count, span = self._count_and_span(pass_filter, partitioned)
            total += count
            for part_filter in self._partitions(pass_filter, count, span, partitioned):
                streams.append(StreamState(len(streams), part_filter, restating))
        log.info(
            "Plan: %s of company %s, cursor %s, %d passes, %d partitions, about %d rows, into %s",
            spec.entity_set,
            spec.company_id,
            json.dumps(window.cursor, default=str),
            len(passes),
            len(streams),
            total,
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
        return Checkpoint(plan, streams, iso(self._now()))

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
                lambda: self._client().count(spec.entity_set, company_id=spec.company_id, filter=pass_filter)
            )
            edges = [pool.submit(self._edge, way, pass_filter) for way in ways]
            low, high = [edge.result() for edge in edges] or [None, None]
            return count.result(), None if low is None or high is None else (low, high)

    def _edge(self, way: Literal["asc", "desc"], pass_filter: str | None) -> int | None:
        spec = self.spec
        return key_edge(self._client(), spec.entity_set, way, company_id=spec.company_id, filter=pass_filter)

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

    # ----- reading -----

    def _client(self) -> BusinessCentralClient:
        """This thread's client (one per stream thread: a session is not shared across threads)."""
        client: BusinessCentralClient | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._new_client()
            with self._lock:
                self._clients.append(client)
        return client

    def _save(self, checkpoint: Checkpoint) -> None:
        checkpoint.save(self.folder)

    def _pages(
        self,
        client: BusinessCentralClient,
        plan: dict[str, Any],
        entity: EntityType,
        partitions: deque[StreamState],
        stop: threading.Event,
    ) -> Iterator[tuple[StreamState, Page]]:
        """The pages of the partitions this stream takes from ``partitions`` (shared by the streams), one
        partition after the other: the next one's first page is asked while the last one's is written."""
        spec = self.spec
        required = [name for name in ROW_FIELDS_READ if name in entity.properties]
        read_as = checked_rows(page_reader(spec.output_format, entity, ROW_FIELDS_READ), required)
        while not stop.is_set():
            try:
                state = partitions.popleft()
            except IndexError:
                return
            for page in client.iter_pages(
                spec.entity_set,
                company_id=spec.company_id,
                filter=state.filter,
                select=plan["select"],
                orderby=ENTRY_NUMBER if plan["partitioned"] else None,
                page_size=spec.page_size,
                next_link=state.next_link,
                # read in the fetching thread: a page waits to be written as its text or its Arrow columns
                decode=read_as,
            ):
                yield state, page
                del page  # not held while the next page downloads

    def _stream(
        self,
        checkpoint: Checkpoint,
        partitions: deque[StreamState],
        window: Window,
        progress: Progress,
        stop: threading.Event,
    ) -> None:
        """One stream: reads partitions until none is left, writing each page as it arrives."""
        spec, plan = self.spec, checkpoint.plan
        entity = EntityType(spec.entity_set, plan["schema"])
        horizon = time_order_key(window.horizon, "horizon") if window.horizon else None
        writer: PartWriter | None = None
        pages = read_ahead(self._pages(self._client(), plan, entity, partitions, stop))
        progress.stream(+1)
        try:
            for state, page in pages:
                read = rows = _rows_of(page.entities)
                if window.skip and not state.restating:
                    rows = _unseen(rows, window.skip)
                with self._lock:
                    _observe(state, read, horizon)
                    state.rows_read += len(read)
                if rows:
                    if writer is None:
                        name = part_name(state.index, len(state.files), spec.output_format, spec.compress)
                        writer = open_part(self.folder, name, spec.output_format, compress=spec.compress, entity=entity)
                    writer.write(rows)
                progress.page(len(read), len(rows))
                last = page.next_link is None
                if writer is not None and (last or writer.rows >= spec.rows_per_file):
                    written = writer.close()
                    writer = None
                    progress.file(written.bytes)
                    with self._lock:
                        state.files.append(written)
                        state.next_link, state.done = page.next_link, last
                        self._save(checkpoint)
                elif writer is None:  # nothing pending: the stream may move on at no cost
                    with self._lock:
                        state.next_link, state.done = page.next_link, last
                        if last:
                            self._save(checkpoint)
                if stop.is_set() and not last:
                    return
                del page, read, rows  # let this page go before the one after the next is fetched
        finally:
            progress.stream(-1)
            if writer is not None:  # a file left incomplete: not in the checkpoint, rewritten on resume
                with suppress(Exception):  # cleanup only; what stopped the stream is what is raised
                    writer.close()

    def _read(self, checkpoint: Checkpoint, progress: Progress) -> None:
        window = Window.from_dict(checkpoint.plan["window"])
        stop = threading.Event()
        partitions = deque(state for state in checkpoint.streams if not state.done)
        streams = min(self.spec.max_streams, len(partitions))
        with ThreadPoolExecutor(self.spec.max_streams, thread_name_prefix="bc-stream") as pool:
            futures: list[Future[None]] = [
                pool.submit(self._stream, checkpoint, partitions, window, progress, stop) for _ in range(streams)
            ]
            try:
                while True:
                    done, running = wait(futures, timeout=self._progress_every, return_when=FIRST_EXCEPTION)
                    failed = [f for f in done if f.exception() is not None]
                    if failed or not running:
                        break
                    progress.log()
            finally:
                stop.set()
                for future in futures:
                    future.cancel()
        for future in futures:
            if not future.cancelled() and (error := future.exception()) is not None:
                raise error

    # ----- the run -----

    def run(self) -> dict[str, Any]:
        """Extract, or resume an interrupted run of the same plan; the manifest (also when already complete).

        A failure of the destination raises :class:`BusinessCentralDestinationError` (transient
        unless access was refused or the store is read-only): what was completed stays, and a
        retry resumes from it.
        """
        try:
            with flat_memory(arrow=self.spec.output_format == "parquet"):
                return self._run()
        except OSError as error:  # object storage (fsspec, s3fs, pyarrow): the client raises only its own errors
            permanent = isinstance(error, PERMANENT_OS_ERRORS) or error.errno in PERMANENT_ERRNOS
            raise BusinessCentralDestinationError(
                f"{self.folder}: {type(error).__name__}: {error}", transient=not permanent
            ) from error
        finally:
            for client in self._clients:
                client.close()

    def _run(self) -> dict[str, Any]:
        done = read_manifest(self.folder)
        if done is not None:
            self._check_own(done.get("series"), "a run")
            log.info("Run %s is complete already (%s); nothing to do", self.spec.run_name, self.folder)
            return done
        planner = self._client()
        progress = Progress(planner.governor)
        manifests = series_manifests(self.company, self.source, exclude=self.folder.name)
        previous = previous_manifest(manifests, self.series)
        checkpoint = self._resumable(Checkpoint.load(self.folder), previous, manifests)
        if checkpoint is None:
            for part in self.folder.glob("part-*"):  # of a plan that is not carried on
                part.unlink()
            checkpoint = self._plan(planner, previous)
            self.folder.mkdir(parents=True, exist_ok=True)
            self._save(checkpoint)
        progress.total = checkpoint.plan["total"]
        self._read(checkpoint, progress)
        progress.log()
        manifest = self._manifest(checkpoint)
        write_manifest(self.folder, manifest)
        log.info(
            "Wrote %d rows in %d files (%d bytes); settled %s; manifest %s",
            manifest["rows"],
            len(manifest["files"]),
            manifest["bytes"],
            manifest["cursor"].get("settled"),
            self.folder / "_manifest.json",
        )
        return manifest

    def _check_own(self, series: object, what: str) -> None:
        """Refuse a run folder holding ``what`` of another extraction (another query or source): its files
        are never taken for this run's nor removed."""
        if series != self.series:
            raise BusinessCentralDestinationError(
                f"{self.folder} holds {what} of another extraction (series {series}, this one {self.series}): "
                "give this task its own run_name (e.g. with its task id) or destination; if it is this task's "
                "own run from before its query changed, move the folder away",
                transient=False,
            )

    def _resumable(
        self, checkpoint: Checkpoint | None, previous: dict[str, Any] | None, manifests: list[dict[str, Any]]
    ) -> Checkpoint | None:
        """``checkpoint`` if this run can go on from it; ``None`` (the run starts over) if another run of
        the series committed since it was planned and the plan depends on that: a watermark series that
        must continue from the newest run, or a restate pass whose amounts that run holds newer."""
        if checkpoint is None:
            return None
        self._check_own(checkpoint.plan["series"], "the checkpoint of a run")
        newest = previous["run"] if previous else None
        started = parse_datetime(checkpoint.started, "started")
        overtaken = [
            m["run"]
            for m in manifests
            if m["series"] == self.series and parse_datetime(m["finished"], "finished") > started
        ]
        if self._continues() and checkpoint.plan.get("based_on") != newest:
            why = f"was planned after {checkpoint.plan.get('based_on')}, but {newest} has committed since"
        elif checkpoint.plan["window"].get("restate") and overtaken:
            why = f"restates recent entries, and {', '.join(overtaken)} committed newer amounts since it was planned"
        else:
            finished = sum(len(s.files) for s in checkpoint.streams)
            log.info("Resuming run %s from its checkpoint: %d files complete", self.spec.run_name, finished)
            return checkpoint
        log.warning("Run %s %s: planning it again", self.spec.run_name, why)
        return None

    def _continues(self) -> bool:
        """Whether the plan's window starts where an earlier run settled (not a full or data-interval read)."""
        return self.spec.cursor.kind != "full" and self.spec.cursor.interval is None and self.spec.cursor.start is None

    def _manifest(self, checkpoint: Checkpoint) -> dict[str, Any]:
        plan, spec, streams = checkpoint.plan, self.spec, checkpoint.streams
        window = Window.from_dict(plan["window"])
        numbers = [s.max_entry_number for s in streams if s.max_entry_number is not None]
        stamps = [s.max_last_modified for s in streams if s.max_last_modified is not None]
        cursor = {**window.cursor, **_open_range(spec.cursor.kind, window, streams)}
        cursor["watermark"] = cursor["settled"]
        files = [{**f.to_dict(), "stream": s.index} for s in streams for f in s.files]
        return {
            "provider_version": __version__,
            "series": self.series,
            "source": self.source,
            "run": spec.run_name,
            "based_on": plan.get("based_on"),
            "entity_set": spec.entity_set,
            "company_id": spec.company_id,
            "query": {
                **spec.query,
                "select": plan["select"],
                "passes": window.passes,
                "restate": window.restate,
                "page_size": spec.page_size,
            },
            "cursor": cursor,
            "format": {
                "type": spec.output_format,
                "compression": (
                    PARQUET_COMPRESSION if spec.output_format == "parquet" else "gzip" if spec.compress else None
                ),
            },
            "files": files,
            "rows": sum(f["rows"] for f in files),
            #: rows read, those delivered before in the same version (the open range read again) included
            "rows_read": sum(s.rows_read for s in streams),
            "bytes": sum(f["bytes"] for f in files),
            "schema": plan["schema"],
            "max_entry_number": max(numbers, default=None),
            "max_last_modified": max(stamps, key=lambda s: parse_datetime(s, "max_last_modified"), default=None),
            "started": checkpoint.started,
            "finished": iso(self._now()),
        }


def _open_range(kind: str, window: Window, streams: list[StreamState]) -> dict[str, Any]:
    """The settled mark and the open range above it: the rows delivered there (``open_rows``, skipped
    by the next run if unchanged) and, for entry numbers, the highest number read."""
    recent = [row for s in streams for row in s.recent]
    if kind == "full":
        return {"settled": None, "open": None, "open_rows": []}
    if kind == "entry_number":
        lower = window.cursor.get("from")
        marks = [s.settles for s in streams if s.settles is not None] + ([lower] if lower is not None else [])
        settled = max(marks, default=None)
        open_rows = [row for row in recent if settled is None or row[2] > settled]
        highest = max([row[2] for row in open_rows], default=settled)
        return {
            "settled": settled,
            "open": {"after": settled, "through": highest},
            "open_rows": _versions(open_rows),
        }
    return {
        "settled": window.cursor["settled"],
        "open": {"from": window.cursor["settled"], "to": window.cursor["to"]},
        "open_rows": _versions(recent),
    }


def _versions(rows: list[list[Any]]) -> list[list[str]]:
    """``[id, lastModifiedDateTime]`` of ``rows``, once each, sorted."""
    return [list(version) for version in sorted({(str(row[0]), str(row[1])) for row in rows})]


def _rows_of(entities: object) -> PageRows:
    if not isinstance(entities, PageRows):  # pages are read by the run's own page reader
        raise TypeError(f"a page read for writing holds PageRows, not {type(entities).__name__}")
    return entities


def _unseen(rows: PageRows, skip: frozenset[tuple[str, str]]) -> PageRows:
    """``rows`` without those a previous run delivered in the same version (``(id, lastModifiedDateTime)``)."""
    versions = zip(rows.column("id"), rows.column(LAST_MODIFIED), strict=True)
    keep = [i for i, version in enumerate(versions) if version not in skip]
    return rows if len(keep) == len(rows) else rows.subset(keep)


def _observe(state: StreamState, rows: PageRows, horizon: str | None) -> None:
    """Fold a page's highest entry number and modification time into ``state``; sort its rows by the
    window's ``horizon`` (a :func:`time_order_key`): the highest number stamped before it settles, the
    rows stamped at or after it are remembered (the next run skips them if unchanged)."""
    numbers = rows.column(ENTRY_NUMBER)
    present = [n for n in numbers if n is not None]
    if present:
        state.max_entry_number = max(present + _known(state.max_entry_number))
    modified = rows.column(LAST_MODIFIED)
    newest = latest(modified, LAST_MODIFIED)
    if newest is None:
        return
    newest_key = time_order_key(newest, LAST_MODIFIED)
    if state.max_last_modified is None or newest_key > time_order_key(state.max_last_modified, LAST_MODIFIED):
        state.max_last_modified = iso(parse_datetime(newest, LAST_MODIFIED))
    if horizon is None:
        return
    if newest_key < horizon:  # a page of history: every row settles
        settled = present
    else:
        settled = []
        for entity_id, stamp, number in zip(rows.column("id"), modified, numbers, strict=True):
            if stamp and time_order_key(stamp, LAST_MODIFIED) >= horizon:
                state.recent.append([str(entity_id), str(stamp), number])
            elif number is not None:
                settled.append(number)
    if settled:
        state.settles = max(settled + _known(state.settles))


def _known(value: int | None) -> list[int]:
    return [] if value is None else [value]
