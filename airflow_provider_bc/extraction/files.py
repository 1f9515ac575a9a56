"""Part files of an extraction: NDJSON (gzip by default) or Parquet, written page by page.

Each file's rows, compressed bytes and SHA-256 are counted while it is written, so the manifest
needs no second read of what went to object storage.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import msgspec

from airflow_provider_bc.extraction.page_texts import EntityTexts, loads_entity_texts
from airflow_provider_bc.extraction.schema import EntityType, arrow_schema

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    from airflow_provider_bc.extraction.arrow_pages import ArrowRows

OutputFormat = Literal["ndjson", "parquet"]
FORMATS: tuple[OutputFormat, ...] = ("ndjson", "parquet")
#: zlib's fastest level before lazy matching: half the CPU of level 6 for about 8% more bytes
#: (measured on item ledger pages: 18 against 34 ms a page of 5,000, 21.2% against 19.6% of the text)
GZIP_LEVEL = 3
#: rows joined into one write to the compressor (a bounded copy of a page's text at a time)
ROWS_PER_WRITE = 1_000
#: the codec of Parquet part files (as the manifest records it)
PARQUET_COMPRESSION = "snappy"


@runtime_checkable
class PageRows(Protocol):
    """A page's rows as a part file's page reader (:func:`page_reader`) holds them."""

    def __len__(self) -> int: ...

    def column(self, name: str) -> list[Any]:
        """Field ``name`` of each row, as JSON has it (only the fields the reader was asked to keep)."""
        ...

    def subset(self, indexes: Sequence[int]) -> PageRows:
        """Only the rows at ``indexes``."""
        ...


def page_reader(output_format: OutputFormat, entity: EntityType, fields: Sequence[str]) -> Callable[[bytes], Any]:
    """How a page's body is read for ``output_format`` (``iter_pages(decode=...)``), ``fields`` kept
    as JSON has them: each row's text as sent for NDJSON, Arrow columns of ``entity`` for Parquet."""
    if output_format == "parquet":
        from airflow_provider_bc.extraction.arrow_pages import arrow_page_reader

        return arrow_page_reader(entity, fields)
    return partial(loads_entity_texts, fields=tuple(fields))


@dataclass(frozen=True)
class WrittenFile:
    """A complete part file: its name in the run folder, rows, bytes and SHA-256 (hex)."""

    name: str
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WrittenFile:
        return cls(str(data["name"]), int(data["rows"]), int(data["bytes"]), str(data["sha256"]))


class Counted:
    """A binary sink that counts and hashes every byte on its way to ``target``."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        self._target.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._target.flush()

    def close(self) -> None:
        self.closed = True  # the target is closed by its owner


class PartWriter(Protocol):
    """Writes pages of rows (as :func:`page_reader` reads them for the format) into one part file."""

    #: rows written so far
    rows: int

    def write(self, rows: PageRows) -> None: ...

    def close(self) -> WrittenFile: ...


def part_name(stream: int, sequence: int, output_format: OutputFormat, gzip_ndjson: bool) -> str:
    """``part-<stream>-<sequence>`` with the format's suffix: one name per file of a run, stable on retries."""
    suffix = ".parquet" if output_format == "parquet" else ".ndjson.gz" if gzip_ndjson else ".ndjson"
    return f"part-{stream:05d}-{sequence:05d}{suffix}"


class _FileWriter:
    """What every part writer shares: the open object, the counting sink and the row count."""

    def __init__(self, folder: ObjectStoragePath, name: str) -> None:
        self.name = name
        self._file: IO[bytes] = (folder / name).open("wb")
        self._sink = Counted(self._file)
        self.rows = 0

    def _finish(self) -> WrittenFile:
        self._file.close()
        return WrittenFile(self.name, self.rows, self._sink.size, self._sink.digest.hexdigest())


def one_line(text: bytes) -> bytes:
    """A row's JSON text as one line: as sent, or made compact (every digit kept) if it spans lines."""
    if b"\n" in text or b"\r" in text:
        return msgspec.json.format(text, indent=-1)  # the values' bytes as sent, only the spacing dropped
    return text


class NdjsonWriter(_FileWriter):
    """One JSON object per line, each row's text as the API sent it; gzip-compressed unless ``compress`` is off."""

    def __init__(self, folder: ObjectStoragePath, name: str, *, compress: bool) -> None:
        super().__init__(folder, name)
        self._out: Any = (
            gzip.GzipFile(fileobj=self._sink, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) if compress else self._sink
        )

    def write(self, rows: PageRows) -> None:
        if not isinstance(rows, EntityTexts):
            raise TypeError(f"NDJSON part files are written from EntityTexts, not {type(rows).__name__}")
        for start in range(0, len(rows), ROWS_PER_WRITE):
            texts = rows.texts(start, start + ROWS_PER_WRITE)
            if rows.spans_lines:
                texts = [one_line(text) for text in texts]
            texts.append(b"")  # the last line's end
            self._out.write(b"\n".join(texts))
        self.rows += len(rows)

    def close(self) -> WrittenFile:
        if self._out is not self._sink:
            self._out.close()
        return self._finish()


class ParquetWriter(_FileWriter):
    """Parquet with the entity type's schema (decimals exact) and each row's ``@odata.etag``, one row
    group per page."""

    def __init__(self, folder: ObjectStoragePath, name: str, *, entity: EntityType) -> None:
        import pyarrow.parquet as pq

        super().__init__(folder, name)
        self._writer = pq.ParquetWriter(self._sink, arrow_schema(entity), compression=PARQUET_COMPRESSION)

    def write(self, rows: PageRows) -> None:
        batch = _arrow_rows(rows).batch
        if batch.num_rows:
            self._writer.write_batch(batch)
            self.rows += batch.num_rows

    def close(self) -> WrittenFile:
        self._writer.close()
        return self._finish()


def _arrow_rows(rows: PageRows) -> ArrowRows:
    from airflow_provider_bc.extraction.arrow_pages import ArrowRows

    if not isinstance(rows, ArrowRows):
        raise TypeError(f"Parquet part files are written from ArrowRows, not {type(rows).__name__}")
    return rows


def open_part(
    folder: ObjectStoragePath, name: str, output_format: OutputFormat, *, compress: bool, entity: EntityType
) -> PartWriter:
    """A writer for the part file ``name`` in ``folder``."""
    if output_format == "parquet":
        return ParquetWriter(folder, name, entity=entity)
    return NdjsonWriter(folder, name, compress=compress)
