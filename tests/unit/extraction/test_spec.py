"""ExtractionSpec: every setting checked when made (errors naming it), and the query a series is keyed on."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.extraction.cursors import CursorOptions
from airflow_provider_bc.extraction.spec import MAX_PAGE_SIZE, MAX_STREAMS, ExtractionSpec

COMPANY = "7B1E1A2C-3D4E-4F50-8162-738495A6B7C8"


def _spec(**fields: Any) -> ExtractionSpec:
    return ExtractionSpec("itemLedgerEntries", COMPANY, "run-1", **fields)


def test_the_query_is_what_the_rows_are_besides_their_source() -> None:
    spec = _spec(filter="quantity gt 0", select=("id", "quantity"), cursor=CursorOptions(kind="entry_number"))
    assert spec.query == {
        "company_id": COMPANY.lower(),
        "entity_set": "itemLedgerEntries",
        "filter": "quantity gt 0",
        "select": ["id", "quantity"],
        "cursor": "entry_number",
        "format": "ndjson",
    }
    assert _spec().query["select"] is None and _spec().query["cursor"] == "full"


def test_how_a_run_writes_is_no_part_of_its_query() -> None:
    assert _spec(page_size=10, max_streams=1, rows_per_file=7, compress=False).query == _spec().query


@pytest.mark.parametrize(
    "fields",
    [
        {"page_size": 1},
        {"page_size": MAX_PAGE_SIZE},
        {"max_streams": 1},
        {"max_streams": MAX_STREAMS},
        {"rows_per_file": 1},
    ],
)
def test_the_limits_themselves_are_accepted(fields: dict[str, Any]) -> None:
    assert all(getattr(_spec(**fields), name) == value for name, value in fields.items())


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"output_format": "csv"}, "format"),
        ({"max_streams": 0}, "max_streams"),
        ({"max_streams": MAX_STREAMS + 1}, "max_streams"),
        ({"max_streams": "2"}, "max_streams"),
        ({"rows_per_file": 0}, "rows_per_file"),
        ({"rows_per_file": 1.5}, "rows_per_file"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": MAX_PAGE_SIZE + 1}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"page_size": 5000.0}, "page_size"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(BusinessCentralQueryError) as caught:
        _spec(**fields)
    assert caught.value.field == field and repr(next(iter(fields.values()))) in str(caught.value)


def test_parquet_without_pyarrow_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else find_spec(name, *a)
    )
    with pytest.raises(BusinessCentralQueryError, match=r"\[parquet\]") as caught:
        _spec(output_format="parquet")
    assert caught.value.field == "format"
    assert _spec(output_format="ndjson").output_format == "ndjson"
