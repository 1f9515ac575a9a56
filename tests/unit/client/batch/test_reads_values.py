"""``find_many``'s values are keys of its answer: two values Python takes for one key (``1`` and ``True``,
``1`` and ``1.0``) but OData reads as different literals are refused, not merged into one clause."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest

from airflow_provider_bc.client.batch.reads import MatchesByValue
from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.odata.urls import ApiUrls
from tests.support import offline_settings

SETTINGS = offline_settings(company_id="3e5a0f1c-52ff-eb11-bb76-000d3a220646")
URLS = ApiUrls(SETTINGS)


def filters(values: list[Any], field: str = "entryNumber") -> list[str]:
    """The ``$filter`` of each operation the first batch of ``find_many(field, values)`` sends."""
    query = MatchesByValue(SETTINGS, URLS, "itemLedgerEntries", field, values).next_request()
    assert query is not None and query.body is not None
    return [unquote(r["url"]).split("$filter=")[1] for r in json.loads(query.body)["requests"]]


@pytest.mark.parametrize(
    ("values", "refused", "says"),
    [
        ([1, True], "values[1]", "True (true in OData) is the same key as the earlier 1 (1 in OData)"),
        ([False, 7, 0], "values[2]", "0 (0 in OData) is the same key as the earlier False (false in OData)"),
        ([2, 2.0], "values[1]", "2.0 (2.0 in OData)"),
        (["x", Decimal("3.50"), 3.5], "values[2]", "3.5 (3.5 in OData) is the same key as the earlier Decimal('3.50')"),
    ],
)
def test_values_equal_as_keys_but_not_as_literals_are_refused_naming_the_value(
    values: list[Any], refused: str, says: str
) -> None:
    with pytest.raises(BusinessCentralQueryError) as raised:
        filters(values)
    assert raised.value.field == refused
    assert says in str(raised.value)


def test_repeats_of_one_literal_are_read_once_and_booleans_alone_are_values_too() -> None:
    assert filters([1, 2, 1, 2]) == ["entryNumber eq 1", "entryNumber eq 2"]
    assert filters([True, False, True], "blocked") == ["blocked eq true", "blocked eq false"]
    assert filters([1, "1"]) == ["entryNumber eq 1", "entryNumber eq '1'"]  # two keys, two literals
