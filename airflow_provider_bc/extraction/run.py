"""One extraction run, wired from its parts: the plan (:mod:`.planning`), the streams that read and
write (:mod:`.streams`), the key set and tombstones when asked for (:mod:`.tombstones`), the manifest
written last (:mod:`.commit`); resumed from its checkpoint when it is still the run's to go on with
(:mod:`.state`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_bc.client.thread_clients import ThreadClients
from airflow_provider_bc.client.wording import counted
from airflow_provider_bc.extraction.commit import manifest_of
from airflow_provider_bc.extraction.cursors import parse_datetime
from airflow_provider_bc.extraction.errors import BusinessCentralDestinationError, destination_failure
from airflow_provider_bc.extraction.memory import flat_memory
from airflow_provider_bc.extraction.planning import Planner
from airflow_provider_bc.extraction.progress import Progress
from airflow_provider_bc.extraction.series import series_id, source_of
from airflow_provider_bc.extraction.spec import ExtractionSpec
from airflow_provider_bc.extraction.state import (
    Checkpoint,
    company_folder,
    folder_name,
    previous_manifest,
    read_manifest,
    series_manifests,
    write_manifest,
)
from airflow_provider_bc.extraction.streams import Streams
from airflow_provider_bc.extraction.tombstones import Deletes

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_bc.client.client import BusinessCentralClient

__all__ = ["Extraction", "ExtractionSpec"]

log = logging.getLogger(__name__)


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
        self._now = now
        self._clients = ThreadClients(new_client)
        self.source = source_of(self._clients.get().settings)
        self.series = series_id(self.source, spec.query)
        self._planner = Planner(spec, self.series, self._clients, self.folder, now)
        self._streams = Streams(spec, self._clients, self.folder, progress_every=progress_every)

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
            raise destination_failure(self.folder, error) from error
        finally:
            self._clients.close()

    def _run(self) -> dict[str, Any]:
        done = read_manifest(self.folder)
        if done is not None:
            self._check_own(done.get("series"), "a run")
            log.info("Run %s is complete already (%s); nothing to do", self.spec.run_name, self.folder)
            return done
        progress = Progress(self._clients.get().governor)
        manifests = series_manifests(self.company, self.source, exclude=self.folder.name)
        previous = previous_manifest(manifests, self.series)
        checkpoint = self._resumable(Checkpoint.load(self.folder), previous, manifests)
        if checkpoint is None:
            for part in self.folder.glob("part-*"):  # of a plan that is not carried on
                part.unlink()
            checkpoint = self._planner.plan(previous)
            self.folder.mkdir(parents=True, exist_ok=True)
            checkpoint.save(self.folder)
        progress.total = checkpoint.plan["total"]
        self._streams.read(checkpoint, progress)
        progress.log()
        deletes: dict[str, Any] = {}
        if self.spec.tombstones:  # done again by a resumed run: its files are written before the manifest
            part_files = [f.name for s in checkpoint.streams for f in s.files]
            deletes = Deletes(self.spec, self.company, self.folder).commit(self._clients.get(), part_files, previous)
        manifest = manifest_of(self.spec, self.series, self.source, checkpoint, self._now()) | deletes
        write_manifest(self.folder, manifest)
        log.info(
            "Wrote %s in %s (%s); settled %s; manifest %s",
            counted(manifest["rows"], "row"),
            counted(len(manifest["files"]), "file"),
            counted(manifest["bytes"], "byte"),
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
            log.info("Resuming run %s from its checkpoint: %s complete", self.spec.run_name, counted(finished, "file"))
            return checkpoint
        log.warning("Run %s %s: planning it again", self.spec.run_name, why)
        return None

    def _continues(self) -> bool:
        """Whether the plan's window starts where an earlier run settled (not a full or data-interval read)."""
        return self.spec.cursor.kind != "full" and self.spec.cursor.interval is None and self.spec.cursor.start is None
