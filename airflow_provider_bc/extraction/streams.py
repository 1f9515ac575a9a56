"""The streams of a run: each takes partitions from a shared queue, reads their pages (the next one
asked while the last is written), writes part files and checkpoints each one completed."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_bc.client.thread_clients import ThreadClients
from airflow_provider_bc.extraction.cursors import (
    ENTRY_NUMBER,
    LAST_MODIFIED,
    Window,
    iso,
    latest,
    parse_datetime,
    time_order_key,
)
from airflow_provider_bc.extraction.files import PageRows, PartWriter, open_part, page_reader, part_name
from airflow_provider_bc.extraction.progress import Progress
from airflow_provider_bc.extraction.rows import checked_rows
from airflow_provider_bc.extraction.schema import EntityType
from airflow_provider_bc.extraction.spec import ExtractionSpec
from airflow_provider_bc.extraction.state import Checkpoint, StreamState

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_bc.client.client import BusinessCentralClient
    from airflow_provider_bc.client.odata.paging import Page

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


class Streams:
    """Reads the partitions of runs of ``spec`` into ``folder`` with ``clients``."""

    def __init__(
        self, spec: ExtractionSpec, clients: ThreadClients, folder: ObjectStoragePath, *, progress_every: float
    ) -> None:
        self.spec = spec
        self._clients = clients
        self._folder = folder
        self._progress_every = progress_every
        self._lock = threading.Lock()

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
        pages = read_ahead(self._pages(self._clients.get(), plan, entity, partitions, stop))
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
                        writer = open_part(
                            self._folder, name, spec.output_format, compress=spec.compress, entity=entity
                        )
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
                        checkpoint.save(self._folder)
                elif writer is None:  # nothing pending: the stream may move on at no cost
                    with self._lock:
                        state.next_link, state.done = page.next_link, last
                        if last:
                            checkpoint.save(self._folder)
                if stop.is_set() and not last:
                    return
                del page, read, rows  # let this page go before the one after the next is fetched
        finally:
            progress.stream(-1)
            if writer is not None:  # a file left incomplete: not in the checkpoint, rewritten on resume
                with suppress(Exception):  # cleanup only; what stopped the stream is what is raised
                    writer.close()

    def read(self, checkpoint: Checkpoint, progress: Progress) -> None:
        """Read every partition of ``checkpoint`` not done yet, ``max_streams`` at once, logging progress."""
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
