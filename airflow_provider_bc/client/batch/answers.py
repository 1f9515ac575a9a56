"""Reading a ``$batch`` answer: its inner answers by operation id, and whether each answers what was asked.

An answer must answer what was asked (:class:`Asked`), else it is a bad answer (asked again): by id, an
entity with that ``id`` (selected for the check when ``select`` leaves it out, and not handed over then);
by value, entities whose field holds that value (when it is selected). A ``$batch`` answer whose operation
ids are not those sent, each once, is a bad answer for every operation of it (:func:`operation_answers`).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from requests.structures import CaseInsensitiveDict

from airflow_provider_bc.client.http.exchange import Answer
from airflow_provider_bc.client.odata.filters import decode_enum

#: how many ids or values a message names (the others are counted)
SHORTLIST: Final = 20


def shortlist(items: Sequence[object], limit: int = SHORTLIST) -> str:
    """The first ``limit`` of ``items``, comma-separated, and how many more there are."""
    text = ", ".join(str(item) for item in items[:limit])
    return text if len(items) <= limit else f"{text} and {len(items) - limit} more"


def answer_entries(payload: Mapping[str, Any]) -> Iterator[tuple[str, Answer | None]]:
    """Each entry of a ``$batch`` answer naming an operation id: the id, and its answer (``None``: malformed)."""
    responses = payload.get("responses")
    for response in responses if isinstance(responses, list) else ():
        op_id = response.get("id") if isinstance(response, dict) else None
        if not isinstance(op_id, str):
            continue
        status, headers, body = (response.get(name) for name in ("status", "headers", "body"))
        headers = {} if headers is None else headers
        if (
            not isinstance(status, int)
            or isinstance(status, bool)
            or not isinstance(headers, dict)
            or not all(isinstance(value, str) for value in headers.values())
        ):
            yield op_id, None
            continue
        read_as = CaseInsensitiveDict(headers)
        if isinstance(body, dict | list):
            read_as.setdefault("Content-Type", "application/json")
        text = body if isinstance(body, str) else "" if body is None else json.dumps(body)
        yield op_id, Answer(status, read_as, text.encode())


def inner_answers(payload: Mapping[str, Any]) -> dict[str, Answer]:
    """The inner answers of a ``$batch`` answer by operation id; malformed entries are left out."""
    return {op_id: answer for op_id, answer in answer_entries(payload) if answer is not None}


def reads_as(answered: object, asked: object) -> bool:
    """Whether the JSON value ``answered`` can be the value ``asked``: texts (and ids) regardless of case, an
    enum's XML-encoded name decoded too; booleans and whole numbers exactly; other values are not compared."""
    asked = str(asked) if isinstance(asked, uuid.UUID) else asked
    if isinstance(asked, str):
        return isinstance(answered, str) and asked.casefold() in {answered.casefold(), decode_enum(answered).casefold()}
    if isinstance(asked, int):  # bool included: True is only true, 1 only 1
        return isinstance(answered, int) and isinstance(answered, bool) == isinstance(asked, bool) and answered == asked
    return True


@dataclass(frozen=True)
class Asked:
    """What an operation asks for: entities whose ``field`` holds ``value``. ``kept``: whether ``field``
    stays in the entities found (``False``: it was selected only to check the answer)."""

    field: str
    value: Hashable
    kept: bool = True

    def problem(self, entity: Mapping[str, Any]) -> str | None:
        """What is wrong with ``entity`` as an answer (``None``: nothing)."""
        if self.field not in entity:
            return f"holds no {self.field!r}: {str(entity)[:120]}"
        if not reads_as(entity[self.field], self.value):
            return f"holds {self.field} {entity[self.field]!r} where {self.value!r} was asked"
        return None

    def shown(self, entity: dict[str, Any]) -> dict[str, Any]:
        """``entity`` as handed over: without ``field`` unless it is :attr:`kept`."""
        return entity if self.kept else {name: value for name, value in entity.items() if name != self.field}


def operation_answers(payload: Mapping[str, Any], sent: Sequence[str]) -> dict[str, Answer | str]:
    """Each operation's inner answer (or what is wrong with it); for every operation ``sent``, what is wrong
    when the answer's operation ids are not those sent, each once."""
    entries = list(answer_entries(payload))
    answered = [op_id for op_id, _ in entries]
    if Counter(answered) - Counter(sent):  # an id not sent, or one answered twice
        problem = f"the $batch answer does not answer the operations sent (sent {shortlist(sent)}; "
        return dict.fromkeys(sent, f"{problem}answered {shortlist(answered)})")
    return {op_id: answer or "the $batch answer to it is not what BC sends" for op_id, answer in entries}
