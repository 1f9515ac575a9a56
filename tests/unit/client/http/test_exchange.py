"""Reading one answer (``client/http/exchange.py``): a JSON object, or the typed error it amounts to."""

from __future__ import annotations

import json

import pytest

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError, BusinessCentralNotFoundError
from airflow_provider_bc.client.http.exchange import Answer, Exchange
from airflow_provider_bc.client.odata.queries import Query
from airflow_provider_bc.extraction.page_texts import loads_entity_texts
from tests.support import offline_settings

URL = "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0/companies"
JSON = {"Content-Type": "application/json; odata.metadata=minimal"}


def exchange(**query: object) -> Exchange:
    return Exchange(offline_settings(), Query(URL, context="GET companies", **query))  # type: ignore[arg-type]


def test_a_json_object_is_the_answer() -> None:
    assert exchange().read(Answer(200, JSON, b'{"value":[{"id":1}]}')) == {"value": [{"id": 1}]}


@pytest.mark.parametrize(
    "body",
    [
        b"<html>gateway</html>",
        b'{"value":[',
        b"[1,2]",
        b'{"value":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}",  # nested past the parser's limit
    ],
)
@pytest.mark.parametrize("decode", [None, lambda body: loads_entity_texts(body, ("id",))], ids=["json", "texts"])
def test_a_body_that_is_no_json_object_is_a_bad_answer(body: bytes, decode: object) -> None:
    with pytest.raises(BusinessCentralBadAnswerError, match="not a JSON object") as caught:
        exchange(decode=decode).read(Answer(200, JSON, body))
    assert caught.value.transient and caught.value.status == 200


def test_an_entity_missing_reads_as_none_found_when_the_query_allows_it() -> None:
    missing = json.dumps({"error": {"code": "Internal_RecordNotFound", "message": "gone"}}).encode()
    assert exchange(missing_ok=True).read(Answer(404, JSON, missing)) == {"value": []}
    with pytest.raises(BusinessCentralNotFoundError):
        exchange().read(Answer(404, JSON, missing))
