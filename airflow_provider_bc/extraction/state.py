"""What an extraction leaves at its destination: the checkpoint while it runs, the manifest when done.

Layout: ``<destination>/<entity_set>/company=<id>/<run>/part-*.{ndjson.gz,parquet}``, then
``_manifest.json`` written last, the commit marker: a reader ignores a folder without one.
``_checkpoint.json`` holds, while the run goes on, the plan and each stream's progress (the link
to read next and the files it completed), so that a retried task resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_bc.client.errors import BusinessCentralDestinationError
from airflow_provider_bc.extraction.cursors import parse_datetime
from airflow_provider_bc.extraction.files import WrittenFile

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
CHECKPOINT = "_checkpoint.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def folder_name(text: str) -> str:
    """``text`` as one path segment safe on every object store (``:`` and ``+`` of run ids replaced)."""
    return _UNSAFE.sub("-", text).strip("-.") or "run"


def company_folder(destination: ObjectStoragePath, entity_set: str, company_id: str) -> ObjectStoragePath:
    """``<destination>/<entity_set>/company=<id>``: every run of one entity set of one company."""
    return destination / entity_set / f"company={company_id}"


def _read_json(path: ObjectStoragePath) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as error:
        raise unreadable(path, str(error)) from None
    return data if isinstance(data, dict) else None


def unreadable(path: ObjectStoragePath, problem: str) -> BusinessCentralDestinationError:
    """The error for a manifest or checkpoint that cannot be read back (nothing is overwritten)."""
    return BusinessCentralDestinationError(
        f"{path} is not a readable extraction file ({problem}); move it away to start this run over",
        transient=False,
    )


def _write_json(path: ObjectStoragePath, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


@dataclass
class StreamState:
    """One partition's progress: the link to read next, the files completed, the highest keys seen."""

    index: int
    filter: str | None
    #: a restate partition: every row is written again, none skipped as already delivered
    restating: bool = False
    next_link: str | None = None
    done: bool = False
    files: list[WrittenFile] = field(default_factory=list)
    max_entry_number: int | None = None
    max_last_modified: str | None = None
    #: [id, lastModifiedDateTime] of rows close to the new watermark (skipped by the next run if unchanged)
    boundary: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [f.to_dict() for f in self.files]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamState:
        return cls(**{**data, "files": [WrittenFile.from_dict(f) for f in data["files"]]})


@dataclass
class Checkpoint:
    """The plan of a run (``plan``, compared on resume) and the state of each of its streams."""

    plan: dict[str, Any]
    streams: list[StreamState]
    started: str

    def save(self, run_folder: ObjectStoragePath) -> None:
        _write_json(
            run_folder / CHECKPOINT,
            {"plan": self.plan, "started": self.started, "streams": [s.to_dict() for s in self.streams]},
        )

    @classmethod
    def load(cls, run_folder: ObjectStoragePath) -> Checkpoint | None:
        data = _read_json(run_folder / CHECKPOINT)
        if data is None:
            return None
        try:
            return cls(data["plan"], [StreamState.from_dict(s) for s in data["streams"]], data["started"])
        except (KeyError, TypeError, ValueError) as error:
            raise unreadable(run_folder / CHECKPOINT, f"{type(error).__name__}: {error}") from None


def read_manifest(run_folder: ObjectStoragePath) -> dict[str, Any] | None:
    """The manifest of a run folder, or ``None`` while the run is not complete."""
    return _read_json(run_folder / MANIFEST)


def write_manifest(run_folder: ObjectStoragePath, manifest: dict[str, Any]) -> None:
    """Write the manifest (last: it marks the run complete) and drop the checkpoint."""
    _write_json(run_folder / MANIFEST, manifest)
    checkpoint = run_folder / CHECKPOINT
    if checkpoint.exists():
        checkpoint.unlink()


def previous_manifest(folder: ObjectStoragePath, series: str, *, exclude: str) -> dict[str, Any] | None:
    """The last finished manifest of ``series`` (same query and cursor) in ``folder``, other than ``exclude``."""
    if not folder.exists():
        return None
    found: list[dict[str, Any]] = []
    for run_folder in folder.iterdir():
        if run_folder.name == exclude or not run_folder.is_dir():
            continue
        manifest = read_manifest(run_folder)
        if manifest is not None and manifest.get("series") == series:
            found.append(manifest)
    if not found:
        return None
    # Compared as times: fractions are trimmed ("...37.2Z" is later than "...37.04Z"), text order is not time order.
    latest = max(found, key=lambda m: parse_datetime(m.get("finished"), f"{MANIFEST} 'finished'"))
    log.info("Previous run of this extraction: %s (watermark %s)", latest["run"], latest["cursor"].get("watermark"))
    return latest
