"""source_of and series_id: which runs continue from each other (same source, same query), whatever the spelling."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_bc.extraction.cursors import CursorOptions
from airflow_provider_bc.extraction.series import series_id, source_of
from airflow_provider_bc.extraction.spec import ExtractionSpec
from tests.support import offline_settings

QUERY = ExtractionSpec("itemLedgerEntries", "ABC", "run-1").query


def test_the_source_is_host_tenant_environment_and_route_in_lower_case() -> None:
    settings = offline_settings(
        api_host="https://API.BusinessCentral.Dynamics.com/", tenant_id="Contoso.OnMicrosoft.com", environment="Sandbox"
    )
    assert source_of(settings) == {
        "host": "https://api.businesscentral.dynamics.com",
        "tenant": "contoso.onmicrosoft.com",
        "environment": "sandbox",
        "api_route": "api/v2.0",
    }


def test_on_premises_has_no_environment() -> None:
    settings = offline_settings(api_host="https://bc.contoso.local:7048/BC", environment="Sandbox")
    assert (
        source_of(settings)["environment"] == "" and source_of(settings)["host"] == "https://bc.contoso.local:7048/bc"
    )


def test_the_same_source_spelled_otherwise_or_read_with_other_credentials_is_the_same_series() -> None:
    one = source_of(offline_settings(tenant_id="Contoso.onmicrosoft.com", environment="Production"))
    other = source_of(offline_settings(tenant_id="contoso.onmicrosoft.com", client_secret="rotated", read_timeout=5))
    same_query = ExtractionSpec("itemLedgerEntries", "abc", "run-2", page_size=100, max_streams=1).query
    assert series_id(one, QUERY) == series_id(other, same_query)
    assert series_id(one, dict(reversed(QUERY.items()))) == series_id(one, QUERY)  # key order does not count
    assert len(series_id(one, QUERY)) == 16 and int(series_id(one, QUERY), 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"filter": "quantity gt 0"},
        {"select": ("id",)},
        {"cursor": CursorOptions(kind="entry_number")},
        {"output_format": "parquet"},
        {"company_id": "other"},
        {"entity_set": "generalLedgerEntries"},
    ],
)
def test_any_other_query_is_another_series(change: dict[str, Any]) -> None:
    source = source_of(offline_settings())
    fields: dict[str, Any] = {"entity_set": "itemLedgerEntries", "company_id": "ABC", "run_name": "r", **change}
    assert series_id(source, ExtractionSpec(**fields).query) != series_id(source, QUERY)


@pytest.mark.parametrize("field", ["host", "tenant", "environment", "api_route"])
def test_any_other_source_is_another_series(field: str) -> None:
    source = source_of(offline_settings())
    assert series_id({**source, field: "elsewhere"}, QUERY) != series_id(source, QUERY)
