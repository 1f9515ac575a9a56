"""``$batch`` answers that do not answer what was asked: each is a typed bad answer (asked again, then raised),
never another entity handed over as the one requested; on the sync, the async and the coalescing client.

The emulator answers every batch faithfully; the only thing stubbed is the hostile rewrite of its answer, at
the transport's ``send`` (the one seam both clients share): everything else is the real client and server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError
from airflow_provider_bc.client.http.exchange import Answer
from airflow_provider_bc.client.http.transport import Transport
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.triggers.coalescing import CoalescingAsyncClient
from tests.faults.conftest import Reader, emulator_settings

ENTRIES = "itemLedgerEntries"
Responses = list[dict[str, Any]]
#: rewrites the ``responses`` of a ``$batch`` answer (the operation ids sent are given too)
Rewrite = Callable[[Responses, list[str]], Responses]


@pytest.fixture
def entries(bc_emulator: Any) -> list[dict[str, Any]]:
    """The first entries of two different documents (id, documentNumber, entryNumber), read before the test."""
    from airflow_provider_bc.client.client import BusinessCentralClient

    client = BusinessCentralClient(emulator_settings(bc_emulator))
    try:
        found: dict[str, dict[str, Any]] = {}
        for entry in client.iter_entities(ENTRIES, select="id,documentNumber,entryNumber", orderby="entryNumber"):
            found.setdefault(entry["documentNumber"], entry)
            if len(found) == 2:
                return list(found.values())
        raise AssertionError("the emulator holds fewer than two documents")
    finally:
        client.close()
        bc_emulator.reset()


@pytest.fixture
def tamper(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., list[list[str]]]]:
    """``tamper(rewrite, times=None)``: the ``$batch`` answers (the first ``times`` of them) rewritten by
    ``rewrite``; returns the list the operation ids of each rewritten batch are recorded in."""

    def install(rewrite: Rewrite, times: int | None = None) -> list[list[str]]:
        real = Transport.send
        rewritten: list[list[str]] = []

        def hostile(answer: Answer, asked: list[str]) -> Answer:
            if times is not None and len(rewritten) >= times:
                return answer
            rewritten.append(asked)
            payload = json.loads(answer.body)
            payload["responses"] = rewrite(payload["responses"], asked)
            return Answer(answer.status, answer.headers, json.dumps(payload).encode())

        def send(self: Transport[Any], method: str, url: str, params: Any, headers: Any, body: Any = None) -> Any:
            sent = real(self, method, url, params, headers, body)
            if not url.endswith("/$batch"):
                return sent
            asked = [request["id"] for request in json.loads(body)["requests"]]
            if isinstance(sent, Answer):
                return hostile(sent, asked)

            async def later() -> Answer:
                return hostile(await sent, asked)

            return later()

        monkeypatch.setattr(Transport, "send", send)
        return rewritten

    yield install


def swapped(responses: Responses, asked: list[str]) -> Responses:
    """The first two answers carry each other's operation id."""
    first, second = responses[:2]
    return [{**first, "id": second["id"]}, {**second, "id": first["id"]}, *responses[2:]]


def other_entity(responses: Responses, asked: list[str]) -> Responses:
    """The first answer's body is the second one's."""
    return [{**responses[0], "body": responses[1]["body"]}, *responses[1:]]


def as_list(responses: Responses, asked: list[str]) -> Responses:
    """The first answer's entity inside a JSON list."""
    return [{**responses[0], "body": [responses[0]["body"]]}, *responses[1:]]


def as_collection(responses: Responses, asked: list[str]) -> Responses:
    """The first answer's entity inside a collection (``value``)."""
    return [{**responses[0], "body": {"value": [responses[0]["body"]]}}, *responses[1:]]


def repeated(responses: Responses, asked: list[str]) -> Responses:
    """A second answer with the first operation's id (the second operation's body), after the others."""
    return [*responses, {**responses[1], "id": responses[0]["id"]}]


def unasked(responses: Responses, asked: list[str]) -> Responses:
    """An extra answer for an operation id that was never sent."""
    return [*responses, {**responses[0], "id": "99"}]


def left_out(responses: Responses, asked: list[str]) -> Responses:
    """The second answer is missing."""
    return [responses[0], *responses[2:]]


@pytest.mark.parametrize(
    ("rewrite", "says"),
    [
        (swapped, ["holds id '{1}' where '{0}' was asked"]),
        (other_entity, ["holds id '{1}' where '{0}' was asked"]),
        (as_list, ["not a JSON object"]),
        (as_collection, ["holds no 'id'", "{0}"]),
        (repeated, ["sent 0, 1", "answered 0, 1, 0"]),
        (unasked, ["sent 0, 1", "answered 0, 1, 99"]),
        (left_out, ["left it out"]),
    ],
    ids=lambda case: case.__name__ if callable(case) else None,
)
def test_a_batch_answer_that_does_not_answer_the_ids_asked_is_a_bad_answer(
    reader_for: Callable[..., Reader],
    bc_emulator: Any,
    tamper: Callable[..., list[list[str]]],
    entries: list[dict[str, Any]],
    rewrite: Rewrite,
    says: list[str],
) -> None:
    ids = [entry["id"] for entry in entries]
    rewritten = tamper(rewrite)
    with pytest.raises(BusinessCentralBadAnswerError) as raised:
        reader_for(max_retries=0).call("get_entities", ENTRIES, ids)  # one answer: what it says, not a retry's
    message = str(raised.value)
    for text in says:
        assert text.format(*ids) in message
    assert (raised.value.attempts, rewritten) == (1, [["0", "1"]])
    assert not any(token in message for token in bc_emulator.issued_tokens())


def test_a_swap_in_one_batch_answer_is_asked_again_and_each_id_gets_its_own_entity(
    reader_for: Callable[..., Reader], tamper: Callable[..., list[list[str]]], entries: list[dict[str, Any]]
) -> None:
    ids = [entry["id"] for entry in entries]
    rewritten = tamper(swapped, times=1)
    found = reader_for().call("get_entities", ENTRIES, ids, select="entryNumber")
    fields = {entity_id: {name: value for name, value in entity.items() if not name.startswith("@")}
              for entity_id, entity in found.items()}  # fmt: skip
    assert fields == {entry["id"]: {"entryNumber": entry["entryNumber"]} for entry in entries}
    assert rewritten == [["0", "1"]]


def test_find_many_refuses_the_matches_of_another_value(
    reader_for: Callable[..., Reader], tamper: Callable[..., list[list[str]]], entries: list[dict[str, Any]]
) -> None:
    numbers = [entry["documentNumber"] for entry in entries]
    tamper(swapped)
    with pytest.raises(BusinessCentralBadAnswerError) as raised:
        reader_for().call("find_many", ENTRIES, "documentNumber", numbers, select="id,documentNumber")
    assert f"holds documentNumber '{numbers[1]}' where '{numbers[0]}' was asked" in str(raised.value)


def test_find_many_refuses_a_repeated_operation_id_even_when_the_matches_cannot_be_checked(
    reader_for: Callable[..., Reader], tamper: Callable[..., list[list[str]]], entries: list[dict[str, Any]]
) -> None:
    numbers = [entry["documentNumber"] for entry in entries]
    tamper(repeated)
    with pytest.raises(BusinessCentralBadAnswerError, match="answered 0, 1, 0"):
        reader_for().call("find_many", ENTRIES, "documentNumber", numbers, select="id")  # no documentNumber


def test_two_coalesced_lookups_do_not_take_each_other_s_entry(
    bc_emulator: Any, tamper: Callable[..., list[list[str]]], entries: list[dict[str, Any]]
) -> None:
    ids = [entry["id"] for entry in entries]
    rewritten = tamper(swapped)

    async def both() -> list[Any]:
        async with CoalescingAsyncClient(emulator_settings(bc_emulator), window=0.05) as client:
            lookups = [client.lookup(Lookup.build(ENTRIES, entity_id=entity_id)) for entity_id in ids]
            return await asyncio.gather(*lookups, return_exceptions=True)

    outcomes = asyncio.run(both())

    assert [type(outcome) for outcome in outcomes] == [BusinessCentralBadAnswerError] * 2
    assert f"holds id '{ids[1]}' where '{ids[0]}' was asked" in str(outcomes[0])
    assert f"holds id '{ids[0]}' where '{ids[1]}' was asked" in str(outcomes[1])
    assert rewritten[0] == ["0", "1"]  # one batch carried both lookups


def test_an_id_selected_only_to_check_the_answer_is_not_handed_over(
    bc_emulator: Any, tamper: Callable[..., list[list[str]]], entries: list[dict[str, Any]]
) -> None:
    tamper(lambda responses, asked: responses)  # the answer as sent: the operations are recorded

    async def lookup() -> list[dict[str, Any]]:
        async with CoalescingAsyncClient(emulator_settings(bc_emulator), window=0.01) as client:
            return await client.lookup(Lookup.build(ENTRIES, entity_id=entries[0]["id"], select="entryNumber"))

    (entity,) = asyncio.run(lookup())
    assert [name for name in entity if not name.startswith("@")] == ["entryNumber"]
    (batch,) = [r["operations"] for r in bc_emulator.recent_requests() if r["route"] == "$batch"]
    assert "$select=entryNumber,id" in unquote(batch[0]["path"])
