"""Pages read straight into Arrow for Parquet: the values ``json.loads`` gives, typed by ``$metadata``."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError
from airflow_provider_bc.extraction.arrow_pages import ArrowRows, arrow_page_reader
from airflow_provider_bc.extraction.schema import EntityType

pa = pytest.importorskip("pyarrow")

ENTITY = EntityType(
    "things",
    {
        "id": "Edm.Guid",
        "number": "Edm.Int32",
        "amount": "Edm.Decimal",
        "ratio": "Edm.Double",
        "flag": "Edm.Boolean",
        "day": "Edm.Date",
        "at": "Edm.TimeOfDay",
        "changed": "Edm.DateTimeOffset",
        "blob": "Edm.Binary",
        "kind": "Microsoft.NAV.kind",
    },
)
FIELDS = ("id", "number", "changed")
ROWS: list[dict[str, Any]] = [
    {
        "@odata.etag": 'W/"x"',
        "id": "a",
        "number": 1,
        "amount": "<1234567890.123456789012345678>",  # a number in the body (see ``body``)
        "ratio": 0.5,
        "flag": True,
        "day": "2024-02-29",
        "at": "12:30:05.25",
        "changed": "2024-03-01T10:00:00.1234567Z",
        "blob": "QUJD",
        "kind": "Sale",
    },
    {"id": "b", "number": 2, "amount": 0, "day": "0001-01-01", "changed": "0001-01-01T00:00:00Z", "extra": [1]},
]


def body(rows: list[dict[str, Any]], **rest: Any) -> bytes:
    """The answer, indented (rows span lines), ``"<digits>"`` written as the number ``digits``."""
    text = json.dumps({"@odata.context": "x", "value": rows, **rest}, indent=1)
    return text.replace('"<', "").replace('>"', "").encode()


def read(data: bytes, entity: EntityType = ENTITY) -> dict[str, Any]:
    return dict(arrow_page_reader(entity, FIELDS)(data))


def test_values_keep_their_exact_meaning_in_the_metadata_types() -> None:
    page = read(body(ROWS, **{"@odata.nextLink": "https://next"}))
    rows = page["value"]
    assert isinstance(rows, ArrowRows) and page["@odata.nextLink"] == "https://next"
    first, second = rows.batch.to_pylist()
    assert first["amount"] == Decimal("1234567890.123456789012345678") and second["amount"] == 0
    assert first["day"] == dt.date(2024, 2, 29) and first["at"] == dt.time(12, 30, 5, 250_000)
    assert first["changed"] == dt.datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert second["changed"] == dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc) and second["ratio"] is None
    assert first["blob"] == b"QUJD" and first["kind"] == "Sale" and first["flag"] is True
    assert rows.batch.schema.field("amount").type == pa.decimal128(38, 18)
    assert rows.column("changed") == ["2024-03-01T10:00:00.1234567Z", "0001-01-01T00:00:00Z"]  # as sent
    assert rows.column("number") == [1, 2] and len(rows) == 2 and rows[1]["id"] == "b"
    assert rows.subset([1]).batch.to_pylist() == [second] and rows.subset([1]).column("id") == ["b"]


def test_a_decimal_with_more_digits_than_the_schema_is_refused_not_rounded() -> None:
    with pytest.raises(pa.ArrowInvalid, match="scale"):
        read(b'{"value":[{"amount":0.1234567890123456789}]}')


@pytest.mark.parametrize(
    "data",
    [
        b'{"value":[{"id":"a"}',
        b'{"value":[{"id":"a"}]}{"value":[]}',
        b'{"value":[null]}',
        b'{"value":[{"number":"x"}]}',
    ],
)
def test_what_is_not_one_object_of_entities_of_their_types_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):  # pyarrow.ArrowInvalid is one: the client retries, then names it
        read(data)


def test_an_answer_without_value_is_left_to_the_page_reader() -> None:
    from airflow_provider_bc.client.odata.paging import PageCursor
    from airflow_provider_bc.client.odata.queries import Query

    payload = read(b'{"@odata.context":"x"}')
    assert "value" not in payload
    with pytest.raises(BusinessCentralBadAnswerError, match="'value' is not a list"):
        PageCursor(None, Query("https://x")).page(payload)  # type: ignore[arg-type]  # no link to follow


def test_parquet_without_pyarrow_is_refused_before_anything_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from airflow_provider_bc.client.errors import BusinessCentralQueryError
    from airflow_provider_bc.extraction.run import ExtractionSpec

    installed = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "pyarrow" else installed(name))
    with pytest.raises(BusinessCentralQueryError, match=r"\[parquet\]") as caught:
        ExtractionSpec("itemLedgerEntries", "c", "run", output_format="parquet")
    assert caught.value.field == "format"
