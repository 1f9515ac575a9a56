"""Numeric settings refuse NaN, infinities, fractions where a whole number is meant, and values out of
range, as connection extras (text or JSON numbers) and as ``ClientSettings`` arguments, each naming
the field and the value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralConfigError
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.hooks.business_central import BusinessCentralHook
from airflow_provider_bc.hooks.connection_settings import settings_from_connection

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "not-a-real-secret"
TENANT = "contoso.onmicrosoft.com"
#: connection extra -> ClientSettings field, for the settings in seconds
SECONDS = {
    "timeout": "read_timeout",
    "connect_timeout": "connect_timeout",
    "backoff_factor": "backoff_factor",
    "backoff_max": "backoff_max",
    "request_window": "request_window",
}
#: connection extra -> ClientSettings field, for the whole-number settings
WHOLE = {
    "max_retries": "max_retries",
    "retry_after_max": "retry_after_max",
    "max_concurrent_requests": "max_in_flight",
    "max_requests_per_window": "max_requests",
}
NOT_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def from_extras(**extra: Any) -> ClientSettings:
    return settings_from_connection(
        "bc_prod", login=CLIENT_ID, password=SECRET, host=None, extra={"tenant_id": TENANT, **extra}
    )


def refused(build: Any, **values: Any) -> BusinessCentralConfigError:
    with pytest.raises(BusinessCentralConfigError) as caught:
        build(**values)
    assert SECRET not in str(caught.value)
    return caught.value


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "Infinity", "-inf", " -Infinity "])
@pytest.mark.parametrize("extra", sorted(SECONDS))
def test_non_finite_seconds_as_text_extras_are_refused_naming_the_extra(extra: str, text: str) -> None:
    error = refused(from_extras, **{extra: text})
    shown = repr(float(text))
    assert (error.field, error.source) == (extra, "connection 'bc_prod'")
    assert f"setting '{extra}' of connection 'bc_prod': must be a finite number of seconds" in str(error)
    assert str(error).endswith(f", got {shown}")


@pytest.mark.parametrize("shown", sorted(NOT_FINITE))
@pytest.mark.parametrize("extra", sorted({**SECONDS, **WHOLE}))
def test_non_finite_json_numbers_in_extras_are_refused_naming_the_extra(extra: str, shown: str) -> None:
    error = refused(from_extras, **{extra: NOT_FINITE[shown]})
    assert error.field == extra
    assert str(error).endswith(f"got {shown}")


def test_a_connection_whose_json_extra_holds_nan_is_refused_by_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's JSON reader (and so Airflow's ``extra_dejson``) takes the literals NaN and Infinity."""
    extra = f'{{"tenant_id": "{TENANT}", "timeout": NaN, "backoff_max": Infinity}}'
    conn = {"conn_type": "business_central", "login": CLIENT_ID, "password": SECRET, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_BC_NAN", json.dumps(conn))
    error = refused(lambda: BusinessCentralHook("bc_nan").settings)
    assert str(error) == (
        "Business Central setting 'timeout' of connection 'bc_nan': must be a finite number of seconds > 0, got nan"
    )


@pytest.mark.parametrize(("extra", "value", "shown"), [("max_retries", 2.5, "2.5"), ("retry_after_max", "0.5", "0.5")])
def test_a_fraction_where_a_whole_number_is_meant_is_refused_not_cut(extra: str, value: Any, shown: str) -> None:
    error = refused(from_extras, **{extra: value})
    assert error.field == extra
    assert str(error).endswith(f"must be a whole number{' of seconds' if 'after' in extra else ''} >= 0, got {shown}")


@pytest.mark.parametrize(
    ("extra", "value", "problem"),
    [
        ("timeout", "0", "must be a finite number of seconds > 0, got 0.0"),
        ("backoff_factor", "-1", "must be a finite number of seconds >= 0, got -1.0"),
        ("max_concurrent_requests", 0, "must be a whole number >= 1, got 0"),
    ],
)
def test_a_value_out_of_range_names_the_extra_not_the_setting_behind_it(extra: str, value: Any, problem: str) -> None:
    error = refused(from_extras, **{extra: value})
    assert error.field == extra
    assert str(error).endswith(problem)


@pytest.mark.parametrize("value", [True, "soon", [3]])
def test_an_extra_that_is_no_number_says_so(value: Any) -> None:
    error = refused(from_extras, max_retries=value)
    assert str(error).endswith(f"'max_retries' of connection 'bc_prod': {value!r} is not a number")


def test_finite_values_are_kept_and_whole_numbers_stay_whole() -> None:
    settings = from_extras(timeout="30", backoff_factor=0, max_retries="2", retry_after_max=120.0, request_window=1e3)
    assert (settings.read_timeout, settings.backoff_factor, settings.request_window) == (30.0, 0, 1000.0)
    assert (settings.max_retries, settings.retry_after_max) == (2, 120)
    assert isinstance(settings.max_retries, int) and isinstance(settings.retry_after_max, int)


def direct(**values: Any) -> ClientSettings:
    return ClientSettings(client_id=CLIENT_ID, client_secret=SECRET, tenant_id=TENANT, **values)


@pytest.mark.parametrize("shown", sorted(NOT_FINITE))
@pytest.mark.parametrize("field", sorted(SECONDS.values()))
def test_non_finite_seconds_given_to_client_settings_are_refused(field: str, shown: str) -> None:
    error = refused(direct, **{field: NOT_FINITE[shown]})
    assert error.field == field
    lowest = ">= 0" if field == "backoff_factor" else "> 0"
    assert str(error).endswith(f": must be a finite number of seconds {lowest}, got {shown}")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 3.0, True, "3", None])
@pytest.mark.parametrize("field", sorted(WHOLE.values()))
def test_whole_number_settings_given_to_client_settings_take_ints_only(field: str, value: Any) -> None:
    error = refused(direct, **{field: value})
    assert error.field == field
    assert str(error).endswith(f"got {value!r}")


@pytest.mark.parametrize("value", ["10", True, None])
def test_seconds_given_to_client_settings_as_other_types_are_refused(value: Any) -> None:
    error = refused(direct, connect_timeout=value)
    assert str(error).endswith(f"must be a finite number of seconds > 0, got {value!r}")
