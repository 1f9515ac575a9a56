"""The child process of the crash-safety tests: one extraction, stopped at a kill point for its parent
to SIGKILL it there (``tests/extraction/test_crash_safety.py``).

``python -m tests.extraction.crash_child '<json>'`` (the repo root on ``PYTHONPATH``), the JSON holding:

- ``emulator``: the parent's emulator, ``{"info", "state_dir"}`` of its handle; ``settings``: the
  clients' settings other than :func:`tests.extraction.ledger.settings_for`'s (optional);
- ``fault``: a fault of :data:`tests.extraction.ledger.FAULTS` that strikes once the run has planned,
  as its stream starts reading pages (optional);
- ``spec``: :class:`ExtractionSpec` keyword arguments; ``destination``: ``{"url", "conn_id"}``;
- ``point``: where to stop, ``at``: which occurrence (1 = the first):
  ``pages``: after the checkpoint save that makes ``at`` files complete (more partitions to come);
  ``part``: after the first page written into the ``at``-th part file opened (flushed: partly on disk);
  ``manifest``: when the run calls ``write_manifest`` (every part complete, the manifest not written);
- ``marker``: the file written (whole, by rename) once the child stands at the kill point.

At the kill point the child waits until no page read is in flight (a stream's next page is fetched
while the last one is written: its request is answered, and counted by the emulator, before the
marker), writes the marker and blocks for good. Nothing here is a mock of what a kill does: the
parent kills the process for real.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.extraction import run as run_module
from airflow_provider_bc.extraction import streams as streams_module
from airflow_provider_bc.extraction.files import PartWriter
from airflow_provider_bc.extraction.run import Extraction, ExtractionSpec
from airflow_provider_bc.extraction.state import Checkpoint
from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.extraction.ledger import clients_for, struck_after_planning

#: how long the child waits for a page read in flight to be answered before it gives up (exit 3)
FETCH_WAIT = 60.0


class PageReads:
    """Counts the page reads in flight across the run's clients, to stop only once none is."""

    def __init__(self) -> None:
        self._idle = threading.Condition()
        self._in_flight = 0

    def clients(self, clients: Callable[[], BusinessCentralClient]) -> Callable[[], BusinessCentralClient]:
        """``clients`` whose ``iter_pages`` count each page's fetch as in flight."""

        def new_client() -> BusinessCentralClient:
            client = clients()
            iter_pages = client.iter_pages

            def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
                pages = iter_pages(*args, **kwargs)
                while True:
                    with self._idle:
                        self._in_flight += 1
                    try:
                        page = next(pages, None)
                    finally:
                        with self._idle:
                            self._in_flight -= 1
                            self._idle.notify_all()
                    if page is None:
                        return
                    yield page
                    del page

            client.iter_pages = counted  # type: ignore[method-assign]
            return client

        return new_client

    def wait_idle(self) -> None:
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout=FETCH_WAIT):
                print(f"a page read was still in flight after {FETCH_WAIT} s", file=sys.stderr, flush=True)
                os._exit(3)


def stop_here(reads: PageReads, marker: str, details: dict[str, Any]) -> None:
    """Tell the parent the child stands at the kill point, then wait for the kill."""
    reads.wait_idle()
    temporary = f"{marker}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump({**details, "pid": os.getpid()}, file)
    os.replace(temporary, marker)
    threading.Event().wait()  # forever: SIGKILL ends the process here


def flush_part(writer: PartWriter) -> None:
    """Push what ``writer`` wrote so far down to its object (a local file then holds a torn part)."""
    compressor = getattr(writer, "_out", None)  # NDJSON's gzip stream: a sync flush, no trailer
    if compressor is not None and hasattr(compressor, "flush"):
        compressor.flush()
    writer._file.flush()  # type: ignore[attr-defined]  # the object the writer writes to


def arm(point: str, at: int, reads: PageReads, marker: str) -> None:
    """Wrap the engine's own function of the kill ``point`` (the names ``streams.py`` and ``run.py`` call)."""
    if point == "pages":
        save = Checkpoint.save
        fired = threading.Event()

        def save_then_stop(self: Checkpoint, run_folder: ObjectStoragePath) -> None:
            save(self, run_folder)
            complete = sum(len(s.files) for s in self.streams)
            if complete == at and not fired.is_set():
                fired.set()
                remaining = [s.index for s in self.streams if not s.done]
                stop_here(reads, marker, {"point": point, "complete": complete, "remaining": remaining})

        Checkpoint.save = save_then_stop  # type: ignore[method-assign]
    elif point == "part":
        open_part = streams_module.open_part
        opened: list[str] = []

        def open_then_arm(folder: ObjectStoragePath, name: str, *args: Any, **kwargs: Any) -> PartWriter:
            writer = open_part(folder, name, *args, **kwargs)
            opened.append(name)
            if len(opened) == at:
                write = writer.write

                def write_then_stop(rows: Any) -> None:
                    write(rows)
                    flush_part(writer)
                    stop_here(reads, marker, {"point": point, "torn": name, "rows": writer.rows})

                writer.write = write_then_stop  # type: ignore[method-assign]
            return writer

        streams_module.open_part = open_then_arm  # type: ignore[assignment]
    elif point == "manifest":
        write_manifest = run_module.write_manifest

        def stop_before(run_folder: ObjectStoragePath, manifest: dict[str, Any]) -> None:
            stop_here(reads, marker, {"point": point, "files": len(manifest["files"])})
            write_manifest(run_folder, manifest)  # never reached: killed while waiting

        run_module.write_manifest = stop_before
    else:
        raise ValueError(f"no kill point {point!r}")


def main(argv: list[str]) -> int:
    job = json.loads(argv[1])
    # the parent's emulator, for its connection details and control API (the parent manages its process)
    parent = job["emulator"]
    emulator = EmulatorHandle(None, parent["info"], Path(parent["state_dir"]), owned=False)  # type: ignore[arg-type]
    settings, fault = job.get("settings", {}), job.get("fault")
    clients = struck_after_planning(emulator, fault, **settings) if fault else clients_for(emulator, **settings)
    reads = PageReads()
    arm(job["point"], int(job["at"]), reads, job["marker"])
    destination = ObjectStoragePath(job["destination"]["url"], conn_id=job["destination"].get("conn_id"))
    Extraction(ExtractionSpec(**job["spec"]), destination, reads.clients(clients)).run()
    print("the run completed without reaching its kill point", file=sys.stderr, flush=True)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
