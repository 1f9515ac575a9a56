"""A user's filter is joined with other clauses only when its parentheses and text literals are balanced:
an unbalanced one could close the parenthesis ``all_of`` wraps it in and escape the ``and``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.client.odata.filters import all_of, check_filter, clause, text_clause
from airflow_provider_bc.client.odata.lookup import Lookup

ESCAPING = "documentNumber eq 'A') or (documentNumber eq 'B'"


def test_a_filter_that_closes_its_parenthesis_early_is_refused_before_it_is_joined() -> None:
    with pytest.raises(BusinessCentralQueryError) as refused:
        Lookup.build("itemLedgerEntries", filter=ESCAPING, match={"itemNumber": "1000"})
    assert refused.value.field == "filter"
    assert "')' at position 21 closes a parenthesis that was never opened" in str(refused.value)
    with pytest.raises(BusinessCentralQueryError, match="position 21"):
        all_of([ESCAPING, clause("entryNumber", "ge", 5)])  # as an extraction's partition joins it


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("(a eq 1", "'(' at position 0 is never closed"),
        ("a eq 1)", "')' at position 6 closes a parenthesis that was never opened"),
        ("a eq 'x", "the text at position 5 is never closed (a quote inside text is written '')"),
        ("a eq 'O'Brien'", "the text at position 13 is never closed"),
        ("(a eq 1)) or ((b eq 2)", "')' at position 8"),
    ],
)
def test_each_problem_is_named_with_its_position(text: str, problem: str) -> None:
    with pytest.raises(BusinessCentralQueryError) as refused:
        check_filter(text)
    assert refused.value.field == "filter"
    assert problem in str(refused.value)


def test_parentheses_and_doubled_quotes_inside_text_are_text() -> None:
    for text in ["a eq ')'", "a eq '(('", "a eq 'O''Brien'", "a eq ''''", "a eq 'x' and b eq ''", "contains(d,'(')"]:
        assert check_filter(text) == text
    assert all_of(["a eq ')'", "b eq 1"]) == "(a eq ')') and (b eq 1)"
    assert Lookup(filter="(a eq 1) or (b eq ')')").filter == "(a eq 1) or (b eq ')')"  # alone, checked too


FIELDS = st.sampled_from(["documentNumber", "entryNumber", "description"])
VALUES = st.text(alphabet=st.sampled_from("ab'() "), max_size=6) | st.integers()
LEAVES = st.builds(clause, FIELDS, st.sampled_from(["eq", "ne", "ge"]), VALUES) | st.builds(
    text_clause, st.just("contains"), FIELDS, st.text(alphabet=st.sampled_from("ab'() "), max_size=6)
)
VALID = st.recursive(
    LEAVES,
    lambda inner: (
        st.builds("({})".format, inner)
        | st.builds("not ({})".format, inner)
        | st.builds("{} and {}".format, inner, inner)
        | st.builds("{} or {}".format, inner, inner)
    ),
    max_leaves=6,
)


@settings(deadline=None)
@given(text=VALID)
def test_a_balanced_filter_is_accepted_whatever_its_text_literals_hold(text: str) -> None:
    assert check_filter(text) == text
    assert all_of([text, "entryNumber ge 1"]) == f"({text}) and (entryNumber ge 1)"


@settings(deadline=None)
@given(text=VALID, where=st.integers(min_value=0))
def test_one_quote_more_anywhere_is_refused(text: str, where: int) -> None:
    at = where % (len(text) + 1)
    with pytest.raises(BusinessCentralQueryError) as refused:  # an odd number of quotes: some text is unclosed
        check_filter(text[:at] + "'" + text[at:])  # (or, as what was text is read as code, a parenthesis)
    assert refused.value.field == "filter"


@settings(deadline=None)
@given(before=VALID, after=VALID, paren=st.sampled_from(["(", ")"]), joined=st.booleans())
def test_one_parenthesis_more_between_clauses_is_refused(before: str, after: str, paren: str, joined: bool) -> None:
    text = f"{before} and {paren}{after}" if joined else f"{before}{paren}"
    with pytest.raises(BusinessCentralQueryError, match="position"):
        check_filter(text)
    with pytest.raises(BusinessCentralQueryError):
        all_of([text, "entryNumber ge 1"])
