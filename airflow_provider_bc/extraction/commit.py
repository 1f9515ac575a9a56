"""What a run commits: its manifest, saying what its files hold (the settled mark and the open range
included), written last by the run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow_provider_bc import __version__
from airflow_provider_bc.extraction.cursors import Window, iso, parse_datetime
from airflow_provider_bc.extraction.files import PARQUET_COMPRESSION
from airflow_provider_bc.extraction.spec import ExtractionSpec
from airflow_provider_bc.extraction.state import Checkpoint, StreamState


def manifest_of(
    spec: ExtractionSpec, series: str, source: dict[str, str], checkpoint: Checkpoint, finished: dt.datetime
) -> dict[str, Any]:
    """The manifest of a run of ``spec`` whose streams have all read their partitions."""
    plan, streams = checkpoint.plan, checkpoint.streams
    window = Window.from_dict(plan["window"])
    numbers = [s.max_entry_number for s in streams if s.max_entry_number is not None]
    stamps = [s.max_last_modified for s in streams if s.max_last_modified is not None]
    cursor = {**window.cursor, **_open_range(spec.cursor.kind, window, streams)}
    cursor["watermark"] = cursor["settled"]
    files = [{**f.to_dict(), "stream": s.index} for s in streams for f in s.files]
    return {
        "provider_version": __version__,
        "series": series,
        "source": source,
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
        "finished": iso(finished),
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
