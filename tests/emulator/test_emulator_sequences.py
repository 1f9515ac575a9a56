"""Number sequences, as Business Central numbers item ledger entries: a number is taken at the insert,
not at the commit. A reserved entry (an open posting) is invisible to every read until committed, then
appears with its own number and lastModifiedDateTime, both older than entries visible before it;
skipped and rolled-back numbers stay gaps, also over a restart. On an emulator of this module's own."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import requests

from airflow_provider_bc.testing.emulator import EmulatorError, EmulatorHandle
from tests.emulator.conftest import Api
from tests.emulator.test_emulator_batch import gets, post_batch

ENTRIES = 500


def _visible(api: Api, query: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of the default company a collection read with ``query`` returns."""
    response = api.get(api.entries_path(), query)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def _numbers_from(api: Api, first: int) -> list[int]:
    """The visible entry numbers from ``first`` on."""
    return [e["entryNumber"] for e in _visible(api, {"$filter": f"entryNumber ge {first}", "$orderby": "entryNumber"})]


def _count(api: Api) -> int:
    response = api.get(f"{api.entries_path()}/$count")
    assert response.status_code == 200, response.text
    return int(response.text)


def _by_id(api: Api, entry_id: str) -> Any:
    return api.get(f"{api.entries_path()}({entry_id})")


def _newest(api: Api) -> dict[str, Any]:
    (newest,) = _visible(api, {"$orderby": "entryNumber desc", "$top": 1})
    return newest


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_reserved_entry_is_invisible_to_every_read_until_committed(own: Api) -> None:
    newest, count = _newest(own), _count(own)
    (reserved,) = own.emulator.reserve_entries(fields={"description": "an open posting"})
    number, entry_id = reserved["entryNumber"], reserved["id"]
    assert number == newest["entryNumber"] + 1
    assert reserved["description"] == "an open posting" and reserved["@odata.etag"].startswith('W/"')
    now = dt.datetime.now(dt.timezone.utc)
    assert now - dt.timedelta(seconds=30) < _utc(reserved["lastModifiedDateTime"]) <= now  # the insert's time
    by_number = f"{own.entries_path().lstrip('/')}?$filter=entryNumber%20eq%20{number}"
    batch = gets(f"{own.entries_path().lstrip('/')}({entry_id})", by_number)

    own.assert_error(_by_id(own, entry_id), 404, "Internal_RecordNotFound")
    assert _visible(own, {"$filter": f"entryNumber eq {number}"}) == []
    assert _visible(own, {"$filter": f"id eq {entry_id}"}) == []
    assert _numbers_from(own, newest["entryNumber"]) == [newest["entryNumber"]]
    assert _newest(own) == newest
    assert _count(own) == count
    assert own.get(own.entries_path(), {"$count": "true", "$top": 1}).json()["@odata.count"] == count
    answers = post_batch(own, batch).json()["responses"]
    assert [a["status"] for a in answers] == [404, 200] and answers[1]["body"]["value"] == []

    assert own.emulator.commit_entries([entry_id]) == [reserved]

    read = _by_id(own, entry_id).json()
    assert read.pop("@odata.context").endswith("/$entity")
    assert read == reserved  # the same number, lastModifiedDateTime and ETag as when it was reserved
    assert _visible(own, {"$filter": f"entryNumber eq {number}"}) == [reserved]
    assert _newest(own) == reserved and _count(own) == count + 1
    answers = post_batch(own, batch).json()["responses"]
    assert [a["status"] for a in answers] == [200, 200] and answers[1]["body"]["value"] == [reserved]


def test_an_entry_committed_late_appears_behind_higher_numbers_with_an_earlier_time(own: Api) -> None:
    (late,) = own.emulator.reserve_entries()
    number = late["entryNumber"]
    assert own.emulator.skip_entry_numbers(2) == range(number + 1, number + 3)
    inserted = [own.emulator.insert_entry() for _ in range(3)]
    assert [e["entryNumber"] for e in inserted] == [number + 3, number + 4, number + 5]
    assert _numbers_from(own, number) == [number + 3, number + 4, number + 5]
    watermark = inserted[-1]["lastModifiedDateTime"]

    own.emulator.commit_entries([late["id"]])

    assert _numbers_from(own, number) == [number, number + 3, number + 4, number + 5]  # the skipped ones: gaps
    assert all(_utc(late["lastModifiedDateTime"]) < _utc(e["lastModifiedDateTime"]) for e in inserted)
    # what incremental reads after the last entry seen (by number or by time) never find
    assert _visible(own, {"$filter": f"entryNumber gt {number + 5}"}) == []
    assert _visible(own, {"$filter": f"lastModifiedDateTime gt {watermark}"}) == []
    by_time = _visible(own, {"$filter": f"entryNumber ge {number}", "$orderby": "lastModifiedDateTime"})
    assert by_time[0] == late


def test_reserved_rolled_back_and_committed_in_any_order(own: Api) -> None:
    first, second, third = own.emulator.reserve_entries(3, {"quantity": 4})
    number = first["entryNumber"]
    assert [second["entryNumber"], third["entryNumber"]] == [number + 1, number + 2]
    assert own.emulator.commit_entries([third["id"], first["id"]]) == [third, first]
    assert own.emulator.rollback_entries([second["id"]]) == [second]
    own.assert_error(_by_id(own, second["id"]), 404, "Internal_RecordNotFound")
    assert own.emulator.insert_entry()["entryNumber"] == number + 3  # a rolled-back number is not handed out again
    assert _numbers_from(own, number) == [number, number + 2, number + 3]


def _next_number(emulator: EmulatorHandle) -> int:
    """The number the sequence hands out next (the number skipped to find out is used up)."""
    return emulator.skip_entry_numbers(1)[0] + 1


@pytest.mark.parametrize(
    ("call", "body", "status", "message"),
    [
        ("reserve", {"count": 0}, 400, "count must be a whole number of at least 1"),
        ("reserve", {"count": "2"}, 400, "count must be"),
        ("reserve", {"count": True}, 400, "count must be"),
        ("reserve", {"fields": {"entryNumber": 7}}, 400, r"cannot be set: \['entryNumber'\]"),
        ("reserve", {"fields": {"quantity": "many"}}, 400, "quantity must be a number"),
        ("reserve", {"fields": "quantity"}, 400, "fields must be a JSON object"),
        ("reserve", {"count": 2, "fields": {"id": "11111111-2222-4333-8444-555555555555"}}, 400, "count must be 1"),
        ("reserve", {"company_id": "00000000-0000-0000-0000-000000000000"}, 404, "no company with id"),
        ("skip", {}, 400, "count must be a whole number of at least 1, not None"),
        ("skip", {"count": -1}, 400, "count must be"),
        ("commit", {}, 400, "entry_ids must be a non-empty list"),
        ("commit", {"entry_ids": []}, 400, "entry_ids must be"),
        ("commit", {"entry_ids": "abc"}, 400, "entry_ids must be"),
        ("commit", {"entry_ids": [7]}, 400, "entry_ids must be"),
        ("commit", {"entry_ids": ["00000000-0000-0000-0000-000000000000"]}, 404, "entry_ids: no reserved"),
        ("rollback", {"entry_ids": ["not-an-id"]}, 404, "entry_ids: no reserved item ledger entry with id not-an-id"),
    ],
)
def test_refused_calls_take_no_number(own: Api, call: str, body: dict[str, Any], status: int, message: str) -> None:
    before = _next_number(own.emulator)
    response = requests.post(
        f"{own.emulator.base_url}/_emulator/entries/{call}", json=body, verify=own.emulator.ca_bundle, timeout=30
    )
    assert response.status_code == status
    assert re.search(message, response.json()["error"])
    assert _next_number(own.emulator) == before + 1


def test_committing_twice_or_rolling_back_a_visible_entry_is_refused(own: Api) -> None:
    reserved = own.emulator.reserve_entries(2)
    ids = [e["id"] for e in reserved]
    with pytest.raises(EmulatorError, match=r"entries/commit: 400 .*entry_ids names an entry twice"):
        own.emulator.commit_entries([ids[0], ids[0].upper()])
    own.emulator.commit_entries(ids[:1])
    for call in (own.emulator.commit_entries, own.emulator.rollback_entries):
        with pytest.raises(EmulatorError, match=f"400 .*entry_ids: entry {ids[0]} is not reserved but committed"):
            call(ids)  # all or nothing: the second stays reserved
    own.assert_error(_by_id(own, ids[1]), 404, "Internal_RecordNotFound")
    with pytest.raises(EmulatorError, match=r"400 .*is not reserved but committed"):
        own.emulator.rollback_entries([own.emulator.documented_entry_id])  # a seeded entry
    own.emulator.rollback_entries(ids[1:])
    with pytest.raises(EmulatorError, match=r"entries/commit: 404 .*entry_ids: no reserved"):
        own.emulator.commit_entries(ids[1:])


def test_a_restart_keeps_the_sequence_and_rolls_back_open_postings(own: Api) -> None:
    (committed,) = own.emulator.commit_entries([own.emulator.reserve_entries()[0]["id"]])
    (open_posting,) = own.emulator.reserve_entries()
    skipped = own.emulator.skip_entry_numbers(2)
    raw = _by_id(own, committed["id"]).text

    own.emulator.restart()
    own.session.close()

    assert _by_id(own, committed["id"]).text == raw
    own.assert_error(_by_id(own, open_posting["id"]), 404, "Internal_RecordNotFound")
    with pytest.raises(EmulatorError, match=r"entries/commit: 404 .*no reserved"):
        own.emulator.commit_entries([open_posting["id"]])
    assert own.emulator.insert_entry()["entryNumber"] == skipped[-1] + 1  # no number handed out twice
    assert own.emulator.reserve_entries()[0]["entryNumber"] == skipped[-1] + 2
