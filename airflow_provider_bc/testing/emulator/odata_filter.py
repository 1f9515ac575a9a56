"""The emulator's own ``$filter`` implementation: tokenizer, recursive-descent parser, SQL output.

Supported like Business Central: ``eq ne gt ge lt le``, ``and``, ``or`` (only within one field),
parentheses, ``startswith/endswith/contains(field, 'text')`` and ``tolower/toupper(field)``.
Values always travel as SQL parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from .schema import GUID, EntitySet, Field, Kind, datetime_key


class ODataError(ValueError):
    """A query option the emulator rejects; ``code`` is the BC error code to answer with."""

    def __init__(self, message: str, code: str = "BadRequest_InvalidRequestUrl") -> None:
        super().__init__(message)
        self.code = code


UNSUPPORTED = "BadRequest_MethodNotImplemented"
_TOKEN_PATTERNS = {  # tried in this order
    "datetime": r"\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})",
    "guid": GUID.pattern,
    "date": r"\d{4}-\d{2}-\d{2}",
    "number": r"-?\d+(?:\.\d+)?",
    "string": r"'(?:[^']|'')*'",
    "name": r"[A-Za-z_][A-Za-z0-9_]*",
    "punct": r"[(),]",
}
_TOKEN = re.compile(r"\s*(?:" + "|".join(f"(?P<{kind}>{p})" for kind, p in _TOKEN_PATTERNS.items()) + ")")
_COMPARISONS = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_CASE_FUNCTIONS = {"tolower": "py_lower", "toupper": "py_upper"}
_TEXT_FUNCTIONS = {"startswith", "endswith", "contains"}
_LITERAL_KINDS = {
    Kind.GUID: {"guid"},
    Kind.STRING: {"string"},
    Kind.ENUM: {"string"},
    Kind.INTEGER: {"number"},
    Kind.DECIMAL: {"number"},
    Kind.DATE: {"date"},
    Kind.DATETIME: {"datetime"},
}


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind (a group name of ``_TOKEN``) and text."""

    kind: str
    text: str


@dataclass(frozen=True)
class SqlCondition:
    """A translated condition: SQL text, its parameters, and the fields it reads."""

    sql: str
    params: tuple[Any, ...]
    fields: frozenset[str]


def tokenize(text: str) -> list[Token]:
    """Split a ``$filter`` value into tokens; anything unrecognised is a syntax error."""
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            if text[position:].strip():
                raise ODataError(f"Syntax error at position {position} in '{text}'.")
            break
        kind = match.lastgroup
        assert kind is not None
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def _literal_value(token: Token) -> Any:
    """The Python value of a literal token, in the form the column stores."""
    if token.kind == "string":
        return token.text[1:-1].replace("''", "'")
    if token.kind == "number":
        return float(token.text) if "." in token.text else int(token.text)
    if token.kind == "guid":
        return token.text.lower()
    if token.kind == "date":
        return date.fromisoformat(token.text).isoformat()
    return datetime_key(token.text)


class _Parser:
    """Recursive descent over the tokens of one ``$filter``, producing a :class:`SqlCondition`."""

    def __init__(self, entity_set: EntitySet, tokens: list[Token]) -> None:
        self.entity_set = entity_set
        self.tokens = tokens
        self.position = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> Token:
        token = self.peek()
        if token is None:
            raise ODataError("Syntax error: the filter expression ends too early.")
        if expected is not None and token.text != expected:
            raise ODataError(f"Syntax error: expected '{expected}', found '{token.text}'.")
        self.position += 1
        return token

    def parse(self) -> SqlCondition:
        condition = self.disjunction()
        if (extra := self.peek()) is not None:
            raise ODataError(f"Syntax error: unexpected '{extra.text}' in the filter expression.")
        return condition

    def disjunction(self) -> SqlCondition:
        return self.joined("or", self.conjunction)

    def conjunction(self) -> SqlCondition:
        return self.joined("and", self.primary)

    def joined(self, keyword: str, operand: Callable[[], SqlCondition]) -> SqlCondition:
        """One or more ``operand`` conditions joined by ``keyword`` (``and`` or ``or``: BC allows ``or``
        only between conditions on the same field)."""
        condition = operand()
        while (token := self.peek()) is not None and token.text == keyword:
            self.take()
            right = operand()
            fields = condition.fields | right.fields
            if keyword == "or" and len(fields) > 1:
                raise ODataError(
                    f"The 'or' operator is only supported between conditions on the same field, not on "
                    f"{', '.join(sorted(fields))}.",
                    UNSUPPORTED,
                )
            sql = f"({condition.sql} {keyword.upper()} {right.sql})"
            condition = SqlCondition(sql, condition.params + right.params, fields)
        return condition

    def primary(self) -> SqlCondition:
        token = self.take()
        if token.text == "(":
            condition = self.disjunction()
            self.take(")")
            return condition
        if token.text in _TEXT_FUNCTIONS:
            return self.text_function(token.text)
        if token.text == "not":
            raise ODataError("The operator 'not' is not supported.", UNSUPPORTED)
        self.position -= 1
        return self.comparison()

    def operand(self) -> tuple[str, Field]:
        """A field, possibly wrapped in tolower/toupper: its SQL and the field."""
        token = self.take()
        if token.text in _CASE_FUNCTIONS:
            self.take("(")
            sql, field = self.operand()
            self.take(")")
            if field.kind is not Kind.STRING:
                raise ODataError(f"The function '{token.text}' needs a text field, not '{field.name}'.")
            return f"{_CASE_FUNCTIONS[token.text]}({sql})", field
        if token.kind != "name":
            raise ODataError(f"Syntax error: expected a field name, found '{token.text}'.")
        named = self.entity_set.field(token.text)
        if named is None:
            if self.peek() == Token("punct", "("):
                raise ODataError(f"The function '{token.text}' is not supported.", UNSUPPORTED)
            raise ODataError(
                f"Could not find a property named '{token.text}' on type 'Microsoft.NAV.{self.entity_set.name}'."
            )
        return named.sort_column, named

    def comparison(self) -> SqlCondition:
        sql, field = self.operand()
        operator = self.take()
        if operator.text not in _COMPARISONS:
            raise ODataError(f"The operator '{operator.text}' is not supported.", UNSUPPORTED)
        literal = self.take()
        if literal.text == "null" and operator.text in ("eq", "ne"):
            return SqlCondition(f"{sql} IS {'' if operator.text == 'eq' else 'NOT '}NULL", (), frozenset({field.name}))
        if literal.kind not in _LITERAL_KINDS[field.kind]:
            raise ODataError(f"A literal '{literal.text}' cannot be compared with the field '{field.name}'.")
        if field.kind in (Kind.GUID, Kind.ENUM) and operator.text not in ("eq", "ne"):
            raise ODataError(f"The operator '{operator.text}' is not supported on '{field.name}'.", UNSUPPORTED)
        try:
            value = _literal_value(literal)
        except ValueError as exc:
            raise ODataError(f"The literal '{literal.text}' is not valid: {exc}.") from exc
        return SqlCondition(f"{sql} {_COMPARISONS[operator.text]} ?", (value,), frozenset({field.name}))

    def text_function(self, name: str) -> SqlCondition:
        self.take("(")
        sql, field = self.operand()
        self.take(",")
        literal = self.take()
        self.take(")")
        if field.kind is not Kind.STRING or literal.kind != "string":
            raise ODataError(f"The function '{name}' needs a text field and a text literal.")
        needle = _literal_value(literal)
        fields = frozenset({field.name})
        if name == "contains":
            return SqlCondition(f"instr({sql}, ?) > 0", (needle,), fields)
        if name == "startswith":
            return SqlCondition(f"substr({sql}, 1, ?) = ?", (len(needle), needle), fields)
        if not needle:
            return SqlCondition(f"{sql} IS NOT NULL", (), fields)
        return SqlCondition(f"substr({sql}, ?) = ?", (-len(needle), needle), fields)


def compile_filter(entity_set: EntitySet, text: str) -> SqlCondition:
    """Translate a ``$filter`` value into a parameterized SQL condition on ``entity_set``'s table."""
    tokens = tokenize(text)
    if not tokens:
        raise ODataError("The $filter query option is empty.")
    return _Parser(entity_set, tokens).parse()
