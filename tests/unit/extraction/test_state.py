"""Which earlier run an incremental extraction continues from, how its times are compared, and what
its destination holds: one source per company folder, files written whole."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.extraction.cursors import iso, latest, time_order_key
from airflow_provider_bc.extraction.errors import BusinessCentralDestinationError
from airflow_provider_bc.extraction.state import (
    Checkpoint,
    folder_name,
    previous_manifest,
    series_manifests,
    write_manifest,
)

ZONES = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]


SOURCE = {"host": "https://bc.example", "tenant": "t", "environment": "production", "api_route": "api/v2.0"}


def _finished_at(
    company: ObjectStoragePath,
    run: str,
    finished: str,
    series: str = "s",
    settled: Any = None,
    kind: str = "last_modified",
    source: dict[str, str] = SOURCE,
) -> None:
    folder = company / run
    folder.mkdir(parents=True, exist_ok=True)
    cursor = {"kind": kind, "settled": settled, "open_rows": []}
    manifest = {"run": run, "series": series, "finished": finished, "cursor": cursor, "source": source}
    write_manifest(folder, {**manifest, "files": [], "rows": 0, "schema": {}})


def _previous(company: ObjectStoragePath, series: str) -> dict[str, Any] | None:
    return previous_manifest(series_manifests(company, SOURCE, exclude="this-run"), series)


def test_without_settled_marks_the_latest_run_is_found_by_time_not_by_text(tmp_path: Path) -> None:
    company = ObjectStoragePath(tmp_path.as_uri())
    # BC-style trimmed fractions: as text ".2Z" sorts after ".204Z", as times it is 4 ms earlier
    _finished_at(company, "early", "2026-11-25T22:18:37.2Z")
    _finished_at(company, "late", "2026-11-25T22:18:37.204Z")
    _finished_at(company, "other-series", "2026-11-25T23:00:00Z", series="t")
    _finished_at(company, "this-run", "2026-11-26T00:00:00Z")

    latest = _previous(company, "s")

    assert latest is not None and latest["run"] == "late"
    assert _previous(company, "none-such") is None


def test_the_run_continued_from_has_the_highest_settled_mark_not_the_latest_finish(tmp_path: Path) -> None:
    company = ObjectStoragePath(tmp_path.as_uri())
    _finished_at(company, "overtaking", "2026-11-25T10:00:00Z", settled=9_000, kind="entry_number")
    _finished_at(company, "resumed-late", "2026-11-25T11:00:00Z", settled=700, kind="entry_number")
    _finished_at(company, "t-late", "2026-11-25T09:00:00Z", series="t", settled="2026-11-25T08:00:00.5Z")
    _finished_at(company, "t-early", "2026-11-25T10:00:00Z", series="t", settled="2026-11-25T08:00:00.25Z")

    assert (_previous(company, "s") or {})["run"] == "overtaking"
    assert (_previous(company, "t") or {})["run"] == "t-late"  # .5 s is later than .25 s


@pytest.mark.parametrize("field", ["host", "tenant", "environment", "api_route"])
def test_a_company_folder_holding_another_sources_runs_is_refused_naming_the_field(tmp_path: Path, field: str) -> None:
    company = ObjectStoragePath(tmp_path.as_uri())
    _finished_at(company, "prod", "2026-11-25T10:00:00Z", source={**SOURCE, field: "other"})
    with pytest.raises(BusinessCentralDestinationError, match=f"{field} 'other' in prod") as caught:
        series_manifests(company, SOURCE, exclude="this-run")
    assert not caught.value.transient


def test_a_manifest_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    run = ObjectStoragePath(tmp_path.as_uri()) / "run"
    run.mkdir(parents=True)
    write_manifest(run, {"run": "run", "rows": 1})
    assert json.loads((tmp_path / "run" / "_manifest.json").read_text()) == {"run": "run", "rows": 1}
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["_manifest.json"]  # no temporary left


def test_a_torn_checkpoint_starts_the_run_over_instead_of_failing_every_retry(tmp_path: Path) -> None:
    run = ObjectStoragePath(tmp_path.as_uri()) / "run"
    run.mkdir(parents=True)
    (tmp_path / "run" / "_checkpoint.json").write_text('{"plan": {"series": "s"}, "str')  # cut mid-write
    assert Checkpoint.load(run) is None


def test_a_torn_manifest_is_refused_naming_the_file(tmp_path: Path) -> None:
    company = ObjectStoragePath(tmp_path.as_uri())
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "_manifest.json").write_text('{"run": "torn", "fi')
    with pytest.raises(BusinessCentralDestinationError, match=r"torn/_manifest\.json"):
        series_manifests(company, SOURCE, exclude="this-run")


@given(
    st.datetimes(timezones=st.just(dt.timezone.utc)),
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.sampled_from(ZONES)),
)
def test_the_time_order_key_sorts_as_the_times_do(first: dt.datetime, second: dt.datetime) -> None:
    # BC's form (UTC, trimmed fraction) against any form an offset may take
    keys = time_order_key(iso(first), "a"), time_order_key(second.isoformat(), "b")
    assert (keys[0] < keys[1]) == (first < second) and (keys[0] == keys[1]) == (first == second)


def test_a_time_before_year_1_in_utc_is_refused_naming_the_argument() -> None:
    with pytest.raises(BusinessCentralQueryError, match="cursor_start"):
        time_order_key("0001-01-01T00:30:00+02:00", "cursor_start")


@given(
    st.lists(
        st.datetimes(
            timezones=st.just(dt.timezone.utc), min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2024, 1, 2)
        )
        .map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))  # BC's milliseconds
        .map(iso)
        | st.none()
        | st.just(""),
        max_size=8,
    ),
    st.one_of(st.none(), st.just("2024-01-01T12:00:00+02:00")),
)
def test_the_latest_time_is_the_latest_by_the_time_order_key(texts: list[str | None], other_form: str | None) -> None:
    values = [*texts, other_form]  # a time with an offset: not in BC's form, every time keyed
    present = [v for v in values if v]
    expected = max(present, key=lambda v: time_order_key(v, "t")) if present else None
    found = latest(values, "t")
    assert (found is None) == (expected is None)
    if found is not None and expected is not None:
        assert time_order_key(found, "t") == time_order_key(expected, "t")


def test_committing_removes_what_a_killed_write_left_under_a_temporary_name(tmp_path: Path) -> None:
    run = ObjectStoragePath(tmp_path.as_uri()) / "run"
    run.mkdir(parents=True)
    (tmp_path / "run" / "_checkpoint.json.4242.tmp").write_text('{"plan": ')  # a process killed mid-write
    (tmp_path / "run" / "_checkpoint.json").write_text("{}")
    write_manifest(run, {"run": "run"})
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["_manifest.json"]


@pytest.mark.parametrize(
    ("run_name", "folder"),
    [
        ("scheduled__2024-05-01T00:00:00+00:00", "scheduled__2024-05-01T00-00-00-00-00"),  # docs/howto/extract.md
        ("manual__2026-12-07T14:35:31.264709+00:00-map0", "manual__2026-12-07T14-35-31.264709-00-00-map0"),
        ("entries-17-42", "entries-17-42"),
        ("../..", "run"),
        ("a/b c", "a-b-c"),
    ],
)
def test_a_run_name_becomes_one_safe_folder_name(run_name: str, folder: str) -> None:
    assert folder_name(run_name) == folder
