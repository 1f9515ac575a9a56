"""Deletes seen by comparing key sets (:mod:`airflow_provider_bc.extraction.tombstones`): Business
Central sends no record of a deleted entity, so a run with ``tombstones`` on keeps the ids of its
query and names those of the previous run of its series that are gone.

After its streams, the run reads the id of every entity of the whole query (``$select=id``, pages
of 20,000; the spec's filter, never the cursor's window: an incremental window does not show a
delete), adds the ids of the rows it delivered (read back from its part files: an entity delivered
and deleted before the next run's read is still a tombstone then) and writes them lower-case,
sorted, once each, one JSON string a line, to ``_keys.ndjson.gz``. ``_tombstones.ndjson.gz`` holds
the ids (``{"id": "..."}`` a line, sorted) of the previous run's key set that this one lacks, found
by one merge of the two sorted sets: the previous run's streamed from its file, this run's held as a
list (about 100 bytes an id: 100 MB for a million entities). Both files are written before the
manifest, which lists them (``keys``, ``tombstones``): a run resumed before its manifest reads again.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from typing import TYPE_CHECKING, Any

import msgspec

from airflow_provider_bc.client.wording import counted
from airflow_provider_bc.extraction.errors import BusinessCentralDestinationError, destination_failure
from airflow_provider_bc.extraction.files import GZIP_LEVEL, ROWS_PER_WRITE, Counted, OutputFormat, PageRows
from airflow_provider_bc.extraction.page_texts import loads_entity_texts
from airflow_provider_bc.extraction.rows import checked_rows
from airflow_provider_bc.extraction.spec import ExtractionSpec
from airflow_provider_bc.extraction.state import MANIFEST, folder_name, unreadable

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_bc.client.client import BusinessCentralClient

log = logging.getLogger(__name__)

#: the run's key set: every id of its query, lower-case, sorted, one JSON string a line
KEYS = "_keys.ndjson.gz"
#: the ids of the previous run's key set gone from this run's: ``{"id": "..."}`` a line, sorted
TOMBSTONES = "_tombstones.ndjson.gz"  # "_": a reader of the whole folder takes it for no data part
#: rows a page of the id-only read (Business Central's largest page)
KEY_PAGE_SIZE = 20_000

_ID = msgspec.json.Decoder(str)


class _Keyed(msgspec.Struct):
    id: str


_ROW_ID = msgspec.json.Decoder(_Keyed)


def removed(previous: Iterable[str], current: Sequence[str]) -> Iterator[str]:
    """The ids of ``previous`` not in ``current``, lower-case, sorted, once each: one merge pass.

    ``previous`` is sorted by its ids lower-case (duplicates allowed), ``current`` sorted lower-case
    (duplicates allowed, as :func:`sorted_ids` makes it).
    """
    at, end = 0, len(current)
    last: str | None = None
    for raw in previous:
        key = raw.lower()
        if key == last:
            continue
        last = key
        while at < end and current[at] < key:
            at += 1
        if at == end or current[at] != key:
            yield key


def sorted_ids(ids: Iterable[str]) -> list[str]:
    """``ids`` lower-case and sorted (duplicates kept: dropped as they are written)."""
    keys = [key.lower() for key in ids]
    keys.sort()
    return keys


def _entry(written: Counted, name: str, rows: int) -> dict[str, Any]:
    return {"name": name, "rows": rows, "bytes": written.size}


def _write_lines(folder: ObjectStoragePath, name: str, lines: Iterable[bytes]) -> dict[str, Any]:
    """``lines`` gzipped into ``folder / name``; its manifest entry (name, rows, bytes)."""
    rows = 0
    with (folder / name).open("wb") as file:
        sink = Counted(file)
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as out:
            batch: list[bytes] = []
            for line in lines:
                batch.append(line)
                if len(batch) == ROWS_PER_WRITE:
                    out.write(b"\n".join([*batch, b""]))
                    rows, batch = rows + len(batch), []
            if batch:
                out.write(b"\n".join([*batch, b""]))
                rows += len(batch)
    return _entry(sink, name, rows)


def _unique(keys: Iterable[str]) -> Iterator[str]:
    return (key for key, _ in groupby(keys))


def write_keys(folder: ObjectStoragePath, keys: Sequence[str]) -> dict[str, Any]:
    """The key set ``keys`` (sorted, as :func:`sorted_ids` makes it) as :data:`KEYS` in the run folder."""
    return _write_lines(folder, KEYS, map(msgspec.json.encode, _unique(keys)))


def write_tombstones(folder: ObjectStoragePath, ids: Iterable[str]) -> dict[str, Any]:
    """``ids`` (sorted) as :data:`TOMBSTONES` in the run folder."""
    return _write_lines(folder, TOMBSTONES, (b'{"id":' + msgspec.json.encode(key) + b"}" for key in ids))


def query_ids(client: BusinessCentralClient, spec: ExtractionSpec) -> Iterator[str]:
    """The id of every entity of ``spec``'s query now (its filter, not a cursor's window), read alone."""
    read = checked_rows(partial(loads_entity_texts, fields=("id",)), ("id",))
    for page in client.iter_pages(
        spec.entity_set,
        company_id=spec.company_id,
        filter=spec.filter,
        select=["id"],
        page_size=KEY_PAGE_SIZE,
        decode=read,
    ):
        rows = page.entities
        if not isinstance(rows, PageRows):  # read by the reader above
            raise TypeError(f"a page of ids holds PageRows, not {type(rows).__name__}")
        yield from rows.column("id")
        del page, rows


def delivered_ids(folder: ObjectStoragePath, names: Iterable[str], output_format: OutputFormat) -> Iterator[str]:
    """The ``id`` of every row of the part files ``names`` of a run folder."""
    for name in names:
        path = folder / name
        if output_format == "parquet":
            import pyarrow.parquet as pq

            with path.open("rb") as file:
                for batch in pq.ParquetFile(file).iter_batches(columns=["id"]):
                    yield from (str(value) for value in batch.column(0).to_pylist())
            continue
        with path.open("rb") as raw:
            lines: Any = gzip.GzipFile(fileobj=raw) if name.endswith(".gz") else raw
            for line in lines:
                if line.strip():
                    yield _ROW_ID.decode(line).id


def _malformed(path: ObjectStoragePath, problem: str) -> BusinessCentralDestinationError:
    return BusinessCentralDestinationError(
        f"{path} is not a key set an extraction wrote ({problem}); move the previous run away or turn "
        "tombstones off for a run",
        transient=False,
    )


def stored_keys(path: ObjectStoragePath, rows: int) -> Iterator[str]:
    """The ids of the key set file ``path`` (of ``rows`` ids), checked: lower-case, each after the last;
    one that cannot be read, or not to its end, raises :class:`BusinessCentralDestinationError` naming it."""
    count, last = 0, ""
    try:
        with path.open("rb") as raw, gzip.GzipFile(fileobj=raw) as lines:
            for line in lines:
                try:
                    key = _ID.decode(line)
                except msgspec.DecodeError as error:
                    raise ValueError(f"line {count + 1}: {error}") from None
                if not key or key != key.lower() or key <= last:
                    raise ValueError(f"line {count + 1}: {key[:80]!r} is not a lower-case id after {last[:80]!r}")
                count, last = count + 1, key
                yield key
    except (EOFError, ValueError, zlib.error, gzip.BadGzipFile) as error:
        raise _malformed(path, f"{type(error).__name__}: {error}") from None
    except OSError as error:
        raise destination_failure(path, error) from error
    if count != rows:
        raise _malformed(path, f"{count} ids, its manifest says {rows}")


@dataclass(frozen=True)
class Deletes:
    """The key set and tombstones of a run of ``spec`` into ``folder``, in the company folder ``company``."""

    spec: ExtractionSpec
    company: ObjectStoragePath
    folder: ObjectStoragePath

    def commit(
        self, client: BusinessCentralClient, part_files: Iterable[str], previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Write the run's key set (the query's ids now and those of ``part_files``) and its tombstones
        against ``previous`` (the series' previous manifest); their manifest entries."""
        keys = sorted_ids(query_ids(client, self.spec))
        read = len(keys)
        keys.extend(sorted_ids(delivered_ids(self.folder, part_files, self.spec.output_format)))
        keys.sort()  # two sorted runs: merged in linear time
        entry = write_keys(self.folder, keys)
        log.info("Key set: %s (%d read now), %s", counted(entry["rows"], "id"), read, self.folder / KEYS)
        return {"keys": entry, "tombstones": self._tombstones(keys, previous)}

    def _tombstones(self, keys: list[str], previous: dict[str, Any] | None) -> dict[str, Any] | None:
        if previous is None:
            log.info("No tombstones: this is the first run of the series")
            return None
        stored = previous.get("keys")
        if stored is None:
            log.info("No tombstones: the previous run %s has no key set (tombstones were off)", previous["run"])
            return None
        path = self._keys_path(previous, stored)
        entry = write_tombstones(self.folder, removed(stored_keys(path, stored["rows"]), keys))
        gone = counted(entry["rows"], "id")
        log.info("Tombstones: %s gone since %s, %s", gone, previous["run"], self.folder / TOMBSTONES)
        return {**entry, "against": previous["run"]}

    def _keys_path(self, previous: dict[str, Any], stored: object) -> ObjectStoragePath:
        """The key set file the manifest of ``previous`` lists as ``stored``, checked."""
        folder = self.company / folder_name(str(previous["run"]))
        name = stored.get("name") if isinstance(stored, dict) else None
        rows = stored.get("rows") if isinstance(stored, dict) else None
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or type(rows) is not int:
            raise unreadable(folder / MANIFEST, f"'keys' is not what a run writes there: {str(stored)[:80]}")
        return folder / name
