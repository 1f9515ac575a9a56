"""Many entries in few requests: ``get_entities`` and ``find_many`` through ``$batch``, on the sync and
the async client, asserting on what the emulator saw (requests by route, operations per batch)."""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest

from airflow_provider_bc.client.batch.reads import EntitiesById
from airflow_provider_bc.client.errors import (
    BusinessCentralError,
    BusinessCentralPermissionError,
    BusinessCentralQueryError,
    BusinessCentralServerError,
    BusinessCentralThrottledError,
    BusinessCentralUnsafeLinkError,
)
from airflow_provider_bc.client.http.governor import governor_for
from airflow_provider_bc.client.odata.urls import ApiUrls
from tests.faults.conftest import Reader, emulator_settings

ENTRIES = "itemLedgerEntries"


@pytest.fixture(scope="module")
def entries(bc_emulator_session: Any) -> list[dict[str, Any]]:
    """Every entry's id and document number, in entry order."""
    from airflow_provider_bc.client.client import BusinessCentralClient

    client = BusinessCentralClient(emulator_settings(bc_emulator_session))
    try:
        return list(client.iter_entities(ENTRIES, select="id,documentNumber,entryNumber", orderby="entryNumber"))
    finally:
        client.close()


def batches(emulator: Any) -> list[list[dict[str, Any]]]:
    """The operations of each ``$batch`` request the emulator answered, in order."""
    return [record["operations"] for record in emulator.recent_requests() if record["route"] == "$batch"]


def api_routes(emulator: Any) -> set[str]:
    """The routes of every API request the emulator saw (Entra's left out)."""
    return set(emulator.stats()["requests"]) - {"token", "discovery"}


def entry_of(operation: dict[str, Any]) -> str:
    """The id an ``itemLedgerEntries(<id>)`` operation asked for."""
    return unquote(operation["path"]).split("itemLedgerEntries(")[1].split(")")[0]


def test_250_ids_give_the_right_dict_from_3_batches_and_a_malformed_one_is_refused_unsent(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    rng = random.Random(12)
    present = [entry["id"] for entry in rng.sample(entries, 200)]
    missing = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(30)]
    repeated = [entity_id.upper() for entity_id in present[:5]] + present[5:10] + missing[:10]
    ids = present + missing + repeated
    rng.shuffle(ids)
    assert len(ids) == 250
    reader = reader_for(fresh_client=True)

    malformed = [*ids[:117], "44a76d24-52ff-eb11-bb76-000d3a22064", *ids[118:]]
    with pytest.raises(BusinessCentralQueryError) as refused:
        reader.call("get_entities", ENTRIES, malformed, select="id,entryNumber")
    assert refused.value.field == "ids[117]"
    assert "'44a76d24-52ff-eb11-bb76-000d3a22064'" in str(refused.value)
    assert bc_emulator.recent_requests() == []  # not even a token

    found = reader.call("get_entities", ENTRIES, ids, select="id,entryNumber")

    expected = {given: given.lower() if given.lower() in set(present) else None for given in ids}
    assert {given: entity and entity["id"] for given, entity in found.items()} == expected
    assert all(set(entity) >= {"id", "entryNumber"} for entity in found.values() if entity)
    assert api_routes(bc_emulator) == {"$batch"}
    assert bc_emulator.stats()["requests"]["$batch"] == {"200": 3}
    assert [len(operations) for operations in batches(bc_emulator)] == [100, 100, 30]
    asked = [entry_of(operation) for operations in batches(bc_emulator) for operation in operations]
    assert sorted(asked) == sorted(set(present) | set(missing))  # each distinct id once
    assert bc_emulator.stats()["operations"] == {"itemLedgerEntry": {"200": 200, "404": 30}}


def test_an_inner_429_asks_again_for_those_two_operations_only(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    ids = [entry["id"] for entry in entries[:150]]
    throttled = {ids[7], ids[120]}
    for entity_id in throttled:
        bc_emulator.add_fault(429, route="itemLedgerEntry", path_contains=entity_id)

    found = reader_for(fresh_client=True).call("get_entities", ENTRIES, ids)

    assert {entity_id: entity and entity["id"] for entity_id, entity in found.items()} == {i: i for i in ids}
    sent = batches(bc_emulator)
    assert [len(operations) for operations in sent] == [100, 50, 2]
    assert {entry_of(operation) for operation in sent[2]} == throttled
    first_round = [operation for operations in sent[:2] for operation in operations]
    assert {entry_of(operation) for operation in first_round if operation["status"] == 429} == throttled
    assert bc_emulator.stats()["operations"] == {"itemLedgerEntry": {"200": 150, "429": 2}}


def test_an_operation_throttled_past_its_budget_raises_naming_its_id(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    ids = [entry["id"] for entry in entries[:5]]
    bc_emulator.add_fault(503, count=10, route="itemLedgerEntry", path_contains=ids[2])
    with pytest.raises(BusinessCentralThrottledError) as raised:
        reader_for(fresh_client=True).call("get_entities", ENTRIES, ids)
    assert ids[2] in str(raised.value)
    assert raised.value.attempts == 3  # max_retries=2, as for a request of its own
    assert [len(operations) for operations in batches(bc_emulator)] == [5, 1, 1]


def test_a_retry_after_beyond_the_limit_ends_the_read_at_once(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    ids = [entry["id"] for entry in entries[:3]]
    bc_emulator.add_fault(429, route="itemLedgerEntry", path_contains=ids[1], retry_after=3600)
    with pytest.raises(BusinessCentralThrottledError, match="retry_after_max=5"):
        reader_for(fresh_client=True).call("get_entities", ENTRIES, ids)
    assert len(batches(bc_emulator)) == 1


def test_a_time_budget_ends_a_batch_read_before_a_wait_past_it_on_both_clients(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    ids = [entry["id"] for entry in entries[:3]]
    settings = emulator_settings(bc_emulator)
    bc_emulator.add_fault(429, route="itemLedgerEntry", path_contains=ids[1], retry_after=3)
    read = EntitiesById(settings, ApiUrls(settings), ENTRIES, ids)
    with pytest.raises(BusinessCentralThrottledError, match="no time left before the deadline"):
        reader_for().call("run_batch", read, time_budget=1.0)  # the sync client took no time_budget
    assert len(batches(bc_emulator)) == 1  # the operation was not asked again


@pytest.mark.parametrize(
    ("status", "error"), [(403, BusinessCentralPermissionError), (500, BusinessCentralServerError)]
)
def test_any_other_inner_error_raises_its_typed_error_naming_the_id_without_retrying(
    reader_for: Callable[..., Reader],
    bc_emulator: Any,
    entries: list[dict[str, Any]],
    status: int,
    error: type[BusinessCentralError],
) -> None:
    ids = [entry["id"] for entry in entries[:4]]
    bc_emulator.add_fault(status, route="itemLedgerEntry", path_contains=ids[3])
    with pytest.raises(error) as raised:
        reader_for(fresh_client=True).call("get_entities", ENTRIES, ids)
    assert raised.value.status == status
    assert f"itemLedgerEntries({ids[3]})" in str(raised.value)
    assert len(batches(bc_emulator)) == 1


def test_a_company_that_does_not_exist_is_an_error_not_missing_entities(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    with pytest.raises(BusinessCentralError, match="Internal_CompanyNotFound"):
        reader_for(fresh_client=True).call(
            "get_entities", ENTRIES, [entries[0]["id"]], company_id="00000000-0000-0000-0000-000000000001"
        )


def test_no_batch_of_more_than_100_operations_is_sent(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    ids = [entry["id"] for entry in entries[:101]]
    reader = reader_for(fresh_client=True)
    with pytest.raises(BusinessCentralQueryError) as refused:
        reader.call("get_entities", ENTRIES, ids, batch_size=101)
    assert refused.value.field == "batch_size"
    assert bc_emulator.recent_requests() == []

    assert len(reader.call("get_entities", ENTRIES, ids)) == 101
    assert len(reader.call("get_entities", ENTRIES, ids, batch_size=40)) == 101

    assert [len(operations) for operations in batches(bc_emulator)] == [100, 1, 40, 40, 21]
    assert bc_emulator.stats()["requests"]["$batch"] == {"200": 5}


def test_find_many_reads_one_eq_filter_per_value_keyed_by_value(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    by_number: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        by_number[entry["documentNumber"]].append(entry["id"])
    numbers = sorted(by_number)[:5]
    values = [*numbers, numbers[0], "O'NEIL-1", "NO-SUCH-DOC"]

    found = reader_for(fresh_client=True).call(
        "find_many", ENTRIES, "documentNumber", values, select="id,documentNumber", batch_size=3
    )

    assert {value: sorted(entity["id"] for entity in matches) for value, matches in found.items()} == {
        **{number: sorted(by_number[number]) for number in numbers},
        "O'NEIL-1": [],
        "NO-SUCH-DOC": [],
    }
    sent = batches(bc_emulator)
    assert [len(operations) for operations in sent] == [3, 3, 1]
    filters = [unquote(operation["path"]).split("$filter=")[1].split("&")[0] for ops in sent for operation in ops]
    assert filters[5] == "documentNumber eq 'O''NEIL-1'"
    assert {operation["route"] for ops in sent for operation in ops} == {"itemLedgerEntries"}


def test_find_many_follows_a_next_link_and_asks_again_for_a_garbled_answer(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    first, second = entries[0]["documentNumber"], entries[1]["documentNumber"]
    assert first != second
    rest = f"{bc_emulator.api_url()}/companies({bc_emulator.default_company_id})/itemLedgerEntries"
    bc_emulator.add_fault(
        "next_link",
        route="itemLedgerEntries",
        path_contains=f"'{first}'",
        next_link=f"{rest}?$filter=documentNumber%20eq%20'{second}'&$select=id",
    )
    bc_emulator.add_fault("value", route="itemLedgerEntries", path_contains=f"'{second}'", value=None)

    found = reader_for(fresh_client=True).call("find_many", ENTRIES, "documentNumber", [first, second], select="id")

    matching = {number: {e["id"] for e in entries if e["documentNumber"] == number} for number in (first, second)}
    assert {entity["id"] for entity in found[first]} == matching[first] | matching[second]  # both pages
    assert {entity["id"] for entity in found[second]} == matching[second]
    statuses = [[operation["status"] for operation in operations] for operations in batches(bc_emulator)]
    assert statuses == [[200, 200], [200, 200]]  # the next page of one, the other's garbled answer again


def test_a_next_link_off_the_api_origin_is_not_followed(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    number = entries[0]["documentNumber"]
    bc_emulator.add_fault(
        "next_link", route="itemLedgerEntries", next_link="https://elsewhere.example/v2.0/x?$skiptoken=1"
    )
    with pytest.raises(BusinessCentralUnsafeLinkError):
        reader_for(fresh_client=True).call("find_many", ENTRIES, "documentNumber", [number])
    assert len(batches(bc_emulator)) == 1


def test_a_garbled_batch_answer_is_sent_again_whole(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    ids = [entry["id"] for entry in entries[:3]]
    bc_emulator.add_fault("invalid_json", route="$batch")
    found = reader_for(fresh_client=True).call("get_entities", ENTRIES, ids)
    assert {entity_id: entity and entity["id"] for entity_id, entity in found.items()} == {i: i for i in ids}
    assert [record["status"] for record in bc_emulator.recent_requests() if record["route"] == "$batch"] == [200, 200]
    assert [len(operations or ()) for operations in batches(bc_emulator)] == [0, 3]


def test_the_governor_counts_each_operation_of_a_batch_in_the_principal_s_window(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    client_id, client_secret = bc_emulator.register_client()
    limits = {"client_id": client_id, "client_secret": client_secret, "max_requests": 150, "request_window": 1.0}
    reader = reader_for(**limits)
    ids = [entry["id"] for entry in entries[:100]]
    reader.call("get_entities", ENTRIES, ids)
    reader.call("get_entities", ENTRIES, ids)  # 100 of 150 in the window: starts at once
    started = time.monotonic()
    reader.call("get_entities", ENTRIES, ids)  # 200: waits for the first batch to leave the window
    assert time.monotonic() - started >= 0.5
    stats = governor_for(emulator_settings(bc_emulator, **limits)).stats
    assert (stats.started, stats.waits) == (3, 1)


def test_count_many_counts_each_filter_in_one_batch_and_asks_again_only_a_throttled_one(
    reader_for: Callable[..., Reader], bc_emulator: Any, entries: list[dict[str, Any]]
) -> None:
    numbers = [entry["entryNumber"] for entry in entries]
    bounds = {f"r{i}": (numbers[i * 7], numbers[i * 7 + 5 + i]) for i in range(4)}
    filters = {name: f"entryNumber ge {low} and entryNumber lt {high}" for name, (low, high) in bounds.items()}
    filters["none"] = "entryNumber gt 999999999"
    bc_emulator.add_fault(429, route="itemLedgerEntries", path_contains=f"ge%20{bounds['r2'][0]}%20")

    counted = reader_for(fresh_client=True).call("count_many", ENTRIES, filters)

    expected = {name: sum(low <= n < high for n in numbers) for name, (low, high) in bounds.items()}
    assert counted == {**expected, "none": 0}
    assert [len(operations) for operations in batches(bc_emulator)] == [5, 1]
    assert bc_emulator.stats()["operations"] == {"itemLedgerEntries": {"200": 5, "429": 1}}


def test_count_many_refuses_a_select_and_a_bad_entity_set_before_sending(
    reader_for: Callable[..., Reader], bc_emulator: Any
) -> None:
    reader = reader_for()
    with pytest.raises(BusinessCentralQueryError) as raised:
        reader.call("count_many", ENTRIES, {1: "entryNumber gt 0"}, select="id")
    assert raised.value.field == "select"
    with pytest.raises(BusinessCentralQueryError):
        reader.call("count_many", "item Ledger'Entries", {1: "entryNumber gt 0"})
    assert not batches(bc_emulator)
