"""OData literal formatting, filter building and enum decoding (pure functions)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from airflow_provider_bc.client.odata.filters import (
    all_of,
    clause,
    decode_enum,
    decode_enums,
    filter_from_match,
    format_literal,
    query_options,
    text_clause,
)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("O'Brien", "'O''Brien'"),
        ("''", "''''''"),
        ("Ünïcode – ok", "'Ünïcode – ok'"),
        (dt.date(2024, 1, 31), "2024-01-31"),
        (dt.datetime(2024, 1, 31, 10, 0, tzinfo=dt.timezone.utc), "2024-01-31T10:00:00Z"),
        # Business Central's "never modified" timestamp: the year keeps its four digits
        (dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc), "0001-01-01T00:00:00Z"),
        (dt.date(1, 1, 1), "0001-01-01"),
        (
            dt.datetime(2024, 1, 31, 12, 0, 0, 250000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-01-31T10:00:00.25Z",
        ),
        (uuid.UUID("44a76d24-52ff-eb11-bb76-000d3a220646"), "44a76d24-52ff-eb11-bb76-000d3a220646"),
        (200, "200"),
        (-1.5, "-1.5"),
        (Decimal("25934.20"), "25934.20"),
        (True, "true"),
        (None, "null"),
    ],
)
def test_format_literal(value: object, literal: str) -> None:
    assert format_literal(value) == literal


@pytest.mark.parametrize(
    "value", [dt.datetime(2024, 1, 31), float("nan"), Decimal("Infinity"), object(), [1, 2]], ids=repr
)
def test_format_literal_refuses_what_it_cannot_render_safely(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        format_literal(value)


def test_filter_from_match_escapes_values_and_checks_field_names() -> None:
    built = filter_from_match({"documentNumber": "O'Brien' or 1 eq 1", "postingDate": dt.date(2022, 6, 1)})
    assert built == "documentNumber eq 'O''Brien'' or 1 eq 1' and postingDate eq 2022-06-01"
    with pytest.raises(ValueError, match="not a property name"):
        filter_from_match({"id eq 1 or x": 1})
    with pytest.raises(ValueError, match="operator"):
        clause("quantity", "gte", 1)


def test_all_of_parenthesises_each_part() -> None:
    assert all_of(["a eq 1 or a eq 2", "", "b eq 3"]) == "(a eq 1 or a eq 2) and (b eq 3)"
    assert all_of(["", "a eq 'x or y'"]) == "a eq 'x or y'"


def test_query_options_validate_names() -> None:
    assert query_options(select=["id", "entryNumber"], orderby="postingDate desc", top=5) == {
        "$select": "id,entryNumber",
        "$orderby": "postingDate desc",
        "$top": "5",
    }
    with pytest.raises(ValueError):
        query_options(select="id;drop")
    with pytest.raises(ValueError):
        query_options(orderby="postingDate sideways")
    with pytest.raises(ValueError):
        query_options(top=0)


def test_decode_enum_values() -> None:
    assert decode_enum("Positive_x0020_Adjmt_x002E_") == "Positive Adjmt."
    assert decode_enum("_x0020_") == " "
    entity = {
        "@odata.etag": 'W/"JzQ0O2Zy_x0020_"',
        "entryType": "Positive_x0020_Adjmt_x002E_",
        "documentType": "Sales_x0020_Shipment",
        "description": "Pay 100_x0020_ now!",
        "itemNumber": "1100",
    }
    decoded = decode_enums(entity)
    assert decoded["entryType"] == "Positive Adjmt."
    assert decoded["documentType"] == "Sales Shipment"
    assert decoded["description"] == "Pay 100_x0020_ now!"  # free text is not an enum token
    assert decoded["@odata.etag"] == entity["@odata.etag"]
    assert decode_enums(entity, fields=["documentType"])["entryType"] == "Positive_x0020_Adjmt_x002E_"


def test_text_clause() -> None:
    assert text_clause("contains", "description", "O'Brien") == "contains(description,'O''Brien')"
    with pytest.raises(ValueError):
        text_clause("matches", "description", "x")
