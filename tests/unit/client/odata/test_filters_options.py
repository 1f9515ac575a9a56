"""OData literals, clauses and query options at their edges: which argument a refusal names, and what is sent."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.odata.filters import (
    all_of,
    check_field,
    check_top,
    clause,
    decode_enum,
    decode_enums,
    filter_from_match,
    format_literal,
    query_options,
    select_fields,
    text_clause,
)


def refusal(call: Any) -> BusinessCentralQueryError:
    with pytest.raises(BusinessCentralQueryError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("name", ["id", "_x", "X", "entry_Number2", "a" * 128])
def test_a_property_name_passes(name: str) -> None:
    assert check_field(name) == name


@pytest.mark.parametrize("name", ["", "2x", "a b", "a-b", "id,x", "id)", "ünï", "a" * 129, None, 7])
def test_anything_else_is_refused_naming_the_argument(name: Any) -> None:
    assert (
        str(refusal(lambda: check_field(name))) == f"field: {name!r} is not a property name (letters, digits and '_')"
    )
    assert refusal(lambda: check_field(name, "select")).field == "select"


class _NoOffset(dt.tzinfo):
    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta | None:
        return None


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (10**20, "100000000000000000000"),
        (0.1, "0.1"),
        (1e16, "1e+16"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0.0010"), "-0.0010"),
        ("", "''"),
        ("a'b'c", "'a''b''c'"),
        (uuid.UUID("44A76D24-52FF-EB11-BB76-000D3A220646"), "44a76d24-52ff-eb11-bb76-000d3a220646"),
        (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.datetime(2024, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=5))), "2023-12-31T19:30:00Z"),
        (dt.datetime(2024, 1, 31, 10, 0, 0, 1, tzinfo=dt.timezone.utc), "2024-01-31T10:00:00.000001Z"),
        (dt.datetime(2024, 1, 31, 10, 0, 0, 120000, tzinfo=dt.timezone.utc), "2024-01-31T10:00:00.12Z"),
    ],
)
def test_literals(value: object, literal: str) -> None:
    assert format_literal(value) == literal


@pytest.fixture
def machine_five_hours_behind_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local timezone is UTC-5 while the test runs (a POSIX TZ rule: no tz database needed)."""
    monkeypatch.setenv("TZ", "EST5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_five_hours_behind_utc")
def test_a_datetime_literal_is_utc_whatever_the_machine_timezone() -> None:
    assert dt.datetime(2024, 1, 31, 10, 0).astimezone().utcoffset() == dt.timedelta(hours=-5)  # the fixture works
    moment = dt.datetime(2024, 1, 31, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert format_literal(moment) == "2024-01-31T08:00:00Z"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (dt.datetime(2024, 1, 31, 10, 0), "datetime 2024-01-31T10:00:00 has no timezone; give an aware datetime (UTC)"),
        (
            dt.datetime(2024, 1, 31, 10, 0, tzinfo=_NoOffset()),
            "datetime 2024-01-31T10:00:00 has no timezone; give an aware datetime (UTC)",
        ),
        (float("inf"), "inf has no OData literal"),
        (float("-inf"), "-inf has no OData literal"),
        (float("nan"), "nan has no OData literal"),
        (Decimal("NaN"), "Decimal('NaN') has no OData literal"),
        (Decimal("-Infinity"), "Decimal('-Infinity') has no OData literal"),
        (b"bytes", "no OData literal for bytes value b'bytes'"),
        ([1], "no OData literal for list value [1]"),
    ],
)
def test_values_without_a_safe_literal_are_refused(value: object, problem: str) -> None:
    error = refusal(lambda: format_literal(value))
    assert error.field == "value"
    assert str(error) == f"value: {problem}"


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "ge", "lt", "le"])
def test_every_comparison_operator(op: str) -> None:
    assert clause("quantity", op, 5) == f"quantity {op} 5"


@pytest.mark.parametrize("op", ["EQ", "gte", "and", "eq 1 or x", ""])
def test_other_operators_are_refused(op: str) -> None:
    error = refusal(lambda: clause("quantity", op, 5))
    assert error.field == "operator"
    assert str(error) == f"operator: {op!r} is not one of ['eq', 'ge', 'gt', 'le', 'lt', 'ne']"


def test_a_clause_checks_its_field_and_value() -> None:
    assert refusal(lambda: clause("a b", "eq", 1)).field == "field"
    assert refusal(lambda: clause("a", "eq", object())).field == "value"


@pytest.mark.parametrize("function", ["startswith", "endswith", "contains"])
def test_every_string_function(function: str) -> None:
    assert text_clause(function, "description", "it's") == f"{function}(description,'it''s')"


def test_text_clause_refusals_name_their_argument() -> None:
    error = refusal(lambda: text_clause("substringof", "description", "x"))
    assert str(error) == "function: 'substringof' is not one of ['contains', 'endswith', 'startswith']"
    error = refusal(lambda: text_clause("contains", "description", 5))
    assert str(error) == "text: contains takes text, got int"
    assert refusal(lambda: text_clause("contains", "de scription", "x")).field == "field"


def test_filter_from_match_joins_every_item() -> None:
    assert filter_from_match({"a": 1}) == "a eq 1"
    assert filter_from_match({"a": 1, "b": "x", "c": None}) == "a eq 1 and b eq 'x' and c eq null"


@pytest.mark.parametrize("match", [{}, [("a", 1)], "a eq 1", None])
def test_filter_from_match_needs_a_mapping_with_an_item(match: Any) -> None:
    error = refusal(lambda: filter_from_match(match))
    assert str(error) == f"match: must map at least one field to its value, got {match!r}"


def test_all_of() -> None:
    assert all_of([]) == ""
    assert all_of(["", ""]) == ""
    assert all_of(["a eq 1"]) == "a eq 1"
    assert all_of(iter(["a eq 1", "b eq 2", "c eq 3"])) == "(a eq 1) and (b eq 2) and (c eq 3)"


def test_decode_enum_reads_any_hex_case_and_leaves_the_rest() -> None:
    assert decode_enum("A_x002e__x002E_b") == "A..b"
    assert decode_enum("Sales_x0020_Shipment_x0020_") == "Sales Shipment "
    assert decode_enum("no_escape_x20_here_x00zz_") == "no_escape_x20_here_x00zz_"


def test_decode_enums_without_fields_takes_only_escaped_enum_tokens() -> None:
    entity = {
        "type": "Sales_x0020_Shipment",
        "plain": "Sale",
        "spaced": "Sales _x0020_",
        "count": 3,
        "@odata.type": "Sales_x0020_Shipment",
    }
    assert decode_enums(entity) == {**entity, "type": "Sales Shipment"}
    assert list(decode_enums(entity)) == list(entity)


def test_decode_enums_with_fields_decodes_those_and_only_those() -> None:
    entity = {"a": "X_x0020_Y", "b": "X_x0020_Y", "c": "free _x0020_ text", "n": 1, "@x": "X_x0020_Y"}
    assert decode_enums(entity, fields=["b", "c", "n", "@x"]) == {
        "a": "X_x0020_Y",
        "b": "X Y",
        "c": "free   text",
        "n": 1,
        "@x": "X_x0020_Y",
    }
    assert decode_enums(entity, fields=[]) == entity
    assert decode_enums(entity, fields=iter(["a"]))["a"] == "X Y"


def test_no_options_no_parameters() -> None:
    assert query_options() == {}
    assert query_options(filter="", select="", orderby=[], top=None) == {}


def test_every_option() -> None:
    assert query_options(filter="a eq 1", select="id, entryNumber", orderby=["postingDate desc", "id"], top=1) == {
        "$filter": "a eq 1",
        "$select": "id,entryNumber",
        "$orderby": "postingDate desc,id",
        "$top": "1",
    }


@pytest.mark.parametrize(
    ("orderby", "sent"),
    [
        ("postingDate", "postingDate"),
        ("postingDate asc", "postingDate asc"),
        (" postingDate  desc ", "postingDate desc"),
        ("a desc,b asc, c", "a desc,b asc,c"),
    ],
)
def test_orderby_terms(orderby: str, sent: str) -> None:
    assert query_options(orderby=orderby) == {"$orderby": sent}


@pytest.mark.parametrize(
    ("orderby", "problem"),
    [
        ("postingDate descending", "direction 'descending' is neither 'asc' nor 'desc'"),
        ("postingDate desc x", "direction 'desc x' is neither 'asc' nor 'desc'"),
        ("postingDate DESC", "direction 'DESC' is neither 'asc' nor 'desc'"),
        ("posting-date", "'posting-date' is not a property name (letters, digits and '_')"),
        (",", "names no field: ','"),
        (7, "must be text or a list of texts, got 7"),
    ],
)
def test_bad_orderby_is_refused(orderby: Any, problem: str) -> None:
    error = refusal(lambda: query_options(orderby=orderby))
    assert error.field == "orderby"
    assert str(error) == f"orderby: {problem}"


@pytest.mark.parametrize(
    ("select", "fields"),
    [
        ("id", ("id",)),
        ("id,entryNumber", ("id", "entryNumber")),
        (" id , entryNumber ", ("id", "entryNumber")),
        (["id", "entryNumber,quantity"], ("id", "entryNumber", "quantity")),
        (("id",), ("id",)),
    ],
)
def test_select_fields(select: Any, fields: tuple[str, ...]) -> None:
    assert select_fields(select) == fields


@pytest.mark.parametrize(
    ("select", "problem"),
    [
        ("", "names no field: ''"),
        (" , ", "names no field: ' , '"),
        ([], "names no field: []"),
        ("id,,x", "'' is not a property name (letters, digits and '_')"),
        (["id", 7], "must be text or a list of texts, got ['id', 7]"),
        (7, "must be text or a list of texts, got 7"),
        ("id desc", "'id desc' is not a property name (letters, digits and '_')"),
    ],
)
def test_bad_select_is_refused(select: Any, problem: str) -> None:
    error = refusal(lambda: select_fields(select))
    assert error.field == "select"
    assert str(error) == f"select: {problem}"


@pytest.mark.parametrize("top", [1, 20_000, 10**9])
def test_top(top: int) -> None:
    assert check_top(top) == top
    assert query_options(top=top) == {"$top": str(top)}


@pytest.mark.parametrize("top", [0, -1, True, False, 1.0, "5", None])
def test_a_top_that_is_not_a_positive_integer_is_refused(top: object) -> None:
    error = refusal(lambda: check_top(top))
    assert str(error) == f"top: must be a positive integer, got {top!r}"
