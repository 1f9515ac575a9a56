"""Which earlier run an incremental extraction continues from."""

from __future__ import annotations

from pathlib import Path

from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_bc.extraction.state import previous_manifest, write_manifest


def _finished_at(company: ObjectStoragePath, run: str, finished: str, series: str = "s") -> None:
    folder = company / run
    folder.mkdir(parents=True, exist_ok=True)
    write_manifest(folder, {"run": run, "series": series, "finished": finished, "cursor": {"watermark": run}})


def test_the_latest_run_is_found_by_time_not_by_text(tmp_path: Path) -> None:
    company = ObjectStoragePath(tmp_path.as_uri())
    # BC-style trimmed fractions: as text ".2Z" sorts after ".204Z", as times it is 4 ms earlier
    _finished_at(company, "early", "2026-11-25T22:18:37.2Z")
    _finished_at(company, "late", "2026-11-25T22:18:37.204Z")
    _finished_at(company, "other-series", "2026-11-25T23:00:00Z", series="t")
    _finished_at(company, "this-run", "2026-11-26T00:00:00Z")

    latest = previous_manifest(company, "s", exclude="this-run")

    assert latest is not None and latest["run"] == "late"
    assert previous_manifest(company, "none-such", exclude="this-run") is None
