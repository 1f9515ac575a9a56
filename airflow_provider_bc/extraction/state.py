"""What an extraction leaves at its destination: the checkpoint while it runs, the manifest when done.

Layout: ``<destination>/<entity_set>/company=<id>/<run>/part-*.{ndjson.gz,parquet}``, then
``_manifest.json`` written last, the commit marker: a reader ignores a folder without one.
``_checkpoint.json`` holds, while the run goes on, the plan and each stream's progress (the link
to read next and the files it completed), so that a retried task resumes where it stopped.

Both are written whole or not at all: on a local disk to a temporary name, then renamed (atomic
on POSIX); an object store makes an object visible only once its upload completed.
A company folder holds the runs of one source (host, tenant, environment, API route): a run from
another source is refused, naming what differs, since a sandbox copied from production keeps
production's company ids.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_bc.extraction.cursors import parse_datetime, settled_of, time_order_key
from airflow_provider_bc.extraction.errors import BusinessCentralDestinationError
from airflow_provider_bc.extraction.files import WrittenFile
from airflow_provider_bc.extraction.shapes import checkpoint_problem, manifest_problem

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
CHECKPOINT = "_checkpoint.json"
ENTRY_NUMBER_KIND = "entry_number"
#: protocols of a local disk, where a file is written to a temporary name and renamed
LOCAL = ("file", "local")
TEMPORARY = ".tmp"
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
    if not isinstance(data, dict):
        raise unreadable(path, f"a JSON {type(data).__name__}, not an object")
    return data


def unreadable(path: ObjectStoragePath, problem: str) -> BusinessCentralDestinationError:
    """The error for a manifest that cannot be read back (nothing is overwritten)."""
    return BusinessCentralDestinationError(
        f"{path} is not a readable extraction file ({problem}); move it away to start this run over",
        transient=False,
    )


def _write_json(path: ObjectStoragePath, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` whole or not at all (a reader never sees half a file)."""
    text = json.dumps(data, indent=1, sort_keys=True)
    if path.protocol not in LOCAL:
        path.write_text(text)  # one upload: the object appears complete, or not at all
        return
    local = str(path.path)
    temporary = f"{local}.{os.getpid()}{TEMPORARY}"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, local)


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
    #: rows read, as far as the checkpoint has recorded (those skipped as delivered before included)
    rows_read: int = 0
    #: the highest entry number of a row stamped before the window's horizon (settled below it)
    settles: int | None = None
    #: [id, lastModifiedDateTime, entryNumber] of the rows stamped at or after the horizon
    recent: list[list[Any]] = field(default_factory=list)

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
        """The run's checkpoint; ``None`` if there is none, or none that can be read (the run starts over)."""
        path = run_folder / CHECKPOINT
        try:
            data = _read_json(path)
            if data is None:
                return None
            if problem := checkpoint_problem(data):
                raise ValueError(problem)
            return cls(data["plan"], [StreamState.from_dict(s) for s in data["streams"]], data["started"])
        except (BusinessCentralDestinationError, KeyError, TypeError, ValueError) as error:
            log.warning("The checkpoint %s cannot be read (%s): this run starts over", path, error)
            return None


def read_manifest(run_folder: ObjectStoragePath) -> dict[str, Any] | None:
    """The manifest of a run folder, or ``None`` while the run is not complete; one that is not what a
    run writes raises :func:`unreadable`."""
    path = run_folder / MANIFEST
    manifest = _read_json(path)
    if manifest is not None and (problem := manifest_problem(manifest)):
        raise unreadable(path, problem)
    return manifest


def write_manifest(run_folder: ObjectStoragePath, manifest: dict[str, Any]) -> None:
    """Write the manifest (last: it marks the run complete) and drop the checkpoint, and on a local
    disk what a write killed midway left under a temporary name."""
    _write_json(run_folder / MANIFEST, manifest)
    checkpoint = run_folder / CHECKPOINT
    if checkpoint.exists():
        checkpoint.unlink()
    if run_folder.protocol in LOCAL:
        for left in run_folder.glob(f"*{TEMPORARY}"):
            left.unlink()


def series_manifests(folder: ObjectStoragePath, source: dict[str, Any], *, exclude: str) -> list[dict[str, Any]]:
    """The finished manifests in the company folder ``folder`` other than the run ``exclude``'s; a
    :class:`BusinessCentralDestinationError` naming the field if one is of another ``source``."""
    if not folder.exists():
        return []
    found: list[dict[str, Any]] = []
    for run_folder in folder.iterdir():
        if run_folder.name == exclude or not run_folder.is_dir():
            continue
        manifest = read_manifest(run_folder)
        if manifest is None:
            continue
        theirs = manifest["source"]
        differing = [name for name in source if theirs.get(name) != source[name]]
        if differing:
            name = differing[0]
            raise BusinessCentralDestinationError(
                f"{folder} holds runs of another Business Central source: {name} {theirs.get(name)!r} in "
                f"{run_folder.name}, {source[name]!r} here (a sandbox keeps production's company ids); "
                "give this extraction a destination of its own",
                transient=False,
            )
        found.append(manifest)
    return found


def _settled_order(manifest: dict[str, Any]) -> tuple[Any, ...]:
    settled = settled_of(manifest)
    finished = parse_datetime(manifest.get("finished"), f"{MANIFEST} 'finished'")
    if settled is None:
        return (0, "", finished)
    if manifest["cursor"].get("kind") == ENTRY_NUMBER_KIND:
        return (1, f"{int(settled):020d}", finished)
    return (1, time_order_key(str(settled), f"{MANIFEST} 'settled'"), finished)


def previous_manifest(manifests: list[dict[str, Any]], series: str) -> dict[str, Any] | None:
    """The run of ``series`` this one continues from: the highest settled mark, then the latest finish
    (a run that finished last may have been overtaken by one planned later)."""
    found = [m for m in manifests if m.get("series") == series]
    if not found:
        return None
    # Times compared as times: fractions are trimmed ("...37.2Z" is later than "...37.04Z").
    latest = max(found, key=_settled_order)
    log.info("Previous run of this extraction: %s (settled %s)", latest["run"], settled_of(latest))
    return latest
