"""Which earlier run an incremental extraction continues from, and how its times are compared."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.extraction.cursors import iso, latest, time_order_key
from airflow_provider_bc.extraction.state import previous_manifest, write_manifest

ZONES = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]


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
