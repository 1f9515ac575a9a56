"""What an extraction reads and how it writes it, checked when it is made."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.extraction.cursors import CursorOptions
from airflow_provider_bc.extraction.files import FORMATS, OutputFormat

MAX_STREAMS = 5  # Business Central runs 5 requests of a principal at once and queues the rest
MAX_PAGE_SIZE = 20_000  # Business Central's largest page


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
    #: also write the run's key set and the ids gone since the previous run (:mod:`.tombstones`)
    tombstones: bool = False

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
        if type(self.tombstones) is not bool:
            raise BusinessCentralQueryError("tombstones", f"must be True or False, got {self.tombstones!r}")
        if self.tombstones and self.select is not None and "id" not in self.select:
            raise BusinessCentralQueryError(
                "select", "tombstones need the id of each row delivered: add id to select, or turn tombstones off"
            )

    @property
    def query(self) -> dict[str, Any]:
        """What the rows of a run are, besides their source: company, entity set, filter, columns, cursor, format
        (not ``tombstones``: a series goes on when they are turned on or off)."""
        return {
            "company_id": self.company_id.lower(),
            "entity_set": self.entity_set,
            "filter": self.filter,
            "select": list(self.select) if self.select is not None else None,
            "cursor": self.cursor.kind,
            "format": self.output_format,
        }
