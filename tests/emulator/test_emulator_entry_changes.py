"""Entries that change after they were posted: modifications (a new lastModifiedDateTime and ETag),
cost adjustments (a FlowField changes, the row does not), exact decimals, and how the seed numbers
and dates entries. On an emulator of this module's own, so the session's data stays as it was."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_bc.testing.emulator import EmulatorError
from tests.emulator.conftest import Api

ENTRIES = 3_000
NEVER_MODIFIED = "0001-01-01T00:00:00Z"


def _entry(api: Any, entry_id: str) -> dict[str, Any]:
    response = api.get(f"{api.entries_path()}({entry_id})")
    assert response.status_code == 200, response.text
    return dict(response.json(parse_float=Decimal))


def _seeded(api: Any) -> list[dict[str, Any]]:
    """The seeded entries of the default company (those up to entry number :data:`ENTRIES`)."""
    pages = api.pages(api.entries_path(), {"$filter": f"entryNumber le {ENTRIES}"})
    return [entry for _, body in pages for entry in body["value"]]


def _changed_since(api: Any, moment: str) -> set[str]:
    """The ids an incremental read on lastModifiedDateTime finds after ``moment``."""
    pages = api.pages(api.entries_path(), {"$filter": f"lastModifiedDateTime gt {moment}", "$select": "id"})
    return {entry["id"] for _, body in pages for entry in body["value"]}


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_seed_has_never_modified_entries_and_numbers_in_posting_order(own: Api) -> None:
    seeded = _seeded(own)
    assert [e["entryNumber"] for e in seeded] == list(range(1, ENTRIES + 1))
    dates = [e["postingDate"] for e in seeded]
    assert dates == sorted(dates)  # a later entry number is never posted earlier
    never = [e for e in seeded if e["lastModifiedDateTime"] == NEVER_MODIFIED]
    assert 0.005 * ENTRIES <= len(never) <= 0.05 * ENTRIES  # a few percent
    again = own.pages(own.entries_path(), {"$filter": f"lastModifiedDateTime eq {NEVER_MODIFIED}"})
    assert {e["id"] for _, body in again for e in body["value"]} >= {e["id"] for e in never}


def test_inserted_entries_get_the_next_entry_numbers(own: Api) -> None:
    (last,) = own.get(own.entries_path(), {"$orderby": "entryNumber desc", "$top": 1}).json()["value"]
    first, second = own.emulator.insert_entry(), own.emulator.insert_entry()
    assert [first["entryNumber"], second["entryNumber"]] == [last["entryNumber"] + 1, last["entryNumber"] + 2]
    (newest,) = own.get(own.entries_path(), {"$orderby": "entryNumber desc", "$top": 1}).json()["value"]
    assert newest == second
    assert own.get(f"{own.entries_path()}/$count").text == str(last["entryNumber"] + 2)


def test_a_modification_sets_a_new_last_modified_and_etag(own: Api) -> None:
    before = _entry(own, _seeded(own)[10]["id"])
    watermark = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    modified = own.emulator.modify_entry(None, before["id"], description="Recounted", quantity=Decimal("7.5"))
    now = dt.datetime.now(dt.timezone.utc)
    assert now - dt.timedelta(seconds=30) < _utc(modified["lastModifiedDateTime"]) <= now
    after = _entry(own, before["id"])
    assert after["@odata.etag"] == modified["@odata.etag"] != before["@odata.etag"]
    assert after["lastModifiedDateTime"] == modified["lastModifiedDateTime"]
    assert (after["description"], after["quantity"]) == ("Recounted", Decimal("7.5"))
    kept = set(before) - {"@odata.etag", "description", "quantity", "lastModifiedDateTime"}
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}
    assert before["id"] in _changed_since(own, watermark)


def test_a_never_modified_entry_becomes_modified_now(own: Api) -> None:
    entry = next(e for e in _seeded(own) if e["lastModifiedDateTime"] == NEVER_MODIFIED)
    modified = own.emulator.modify_entry(own.emulator.default_company_id, entry["id"], description="Touched")
    assert _utc(modified["lastModifiedDateTime"]).year == dt.datetime.now(dt.timezone.utc).year
    again = own.emulator.modify_entry(None, entry["id"], description="Touched again")
    # always later, even within 1 ms; compared as times, as BC trims the fraction ("37.2Z" < "37.204Z")
    assert _utc(again["lastModifiedDateTime"]) > _utc(modified["lastModifiedDateTime"])
    assert len({entry["@odata.etag"], modified["@odata.etag"], again["@odata.etag"]}) == 3


def test_a_cost_adjustment_changes_the_flowfield_only(own: Api) -> None:
    entry = _entry(own, own.emulator.insert_entry(costAmountActual=Decimal("100.10"))["id"])
    watermark = entry["lastModifiedDateTime"]
    adjusted = own.emulator.post_cost_adjustment(None, entry["id"], Decimal("12.34"))
    assert adjusted["lastModifiedDateTime"] == watermark
    assert adjusted["@odata.etag"] == entry["@odata.etag"]
    read = own.get(f"{own.entries_path()}({entry['id']})")
    assert '"costAmountActual":112.44,' in read.text
    assert {**read.json(parse_float=Decimal), "costAmountActual": entry["costAmountActual"]} == entry
    assert entry["id"] not in _changed_since(own, watermark)  # what an incremental read misses
    twice = own.emulator.post_cost_adjustment(own.emulator.default_company_id, entry["id"], "-0.44")
    assert twice["costAmountActual"] == 112


def test_decimals_keep_their_exact_text(own: Api) -> None:
    entry = own.emulator.insert_entry(quantity=Decimal("3.10"), costAmountActual=Decimal("1234567890.123456789"))
    text = own.get(f"{own.entries_path()}({entry['id']})").text
    assert '"quantity":3.1,' in text and '"costAmountActual":1234567890.123456789,' in text
    found = own.get(own.entries_path(), {"$filter": "quantity eq 3.1 and costAmountActual gt 1234567890"})
    assert [e["id"] for e in found.json()["value"]] == [entry["id"]]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"fields": {"costAmountActual": 1}}, "cannot set: \\['costAmountActual'\\]"),
        ({"fields": {"entryNumber": 1}}, "cannot set: \\['entryNumber'\\]"),
        ({"fields": {"lastModifiedDateTime": "2024-01-01T00:00:00Z"}}, "cannot set"),
        ({"fields": {"colour": "red"}}, "cannot set: \\['colour'\\]"),
        ({"fields": {"quantity": "many"}}, "quantity must be a number"),
        ({"fields": {}}, "at least one field"),
        ({"fields": {"description": "x"}, "entry_id": "00000000-0000-0000-0000-000000000000"}, "404.*no item ledger"),
        ({"amount": "lots"}, "not a number"),
        ({"amount": True}, "amount must be a number"),
    ],
)
def test_changes_that_are_refused(own: Api, call: dict[str, Any], message: str) -> None:
    entry_id = call.get("entry_id", own.emulator.documented_entry_id)
    before = _entry(own, entry_id) if "entry_id" not in call else None
    with pytest.raises(EmulatorError, match=message):
        if "amount" in call:
            own.emulator.post_cost_adjustment(None, entry_id, call["amount"])
        else:
            own.emulator.modify_entry(None, entry_id, **call["fields"])
    assert before is None or _entry(own, entry_id) == before


def test_changes_survive_a_restart(own: Api) -> None:
    seeded = _seeded(own)
    modified = own.emulator.modify_entry(None, seeded[20]["id"], description="Kept")
    adjusted = own.emulator.post_cost_adjustment(None, seeded[21]["id"], Decimal("0.01"))
    inserted = own.emulator.insert_entry(costAmountActual=Decimal("0.123456789012345678"))
    raw = {e["id"]: own.get(f"{own.entries_path()}({e['id']})").text for e in (modified, adjusted, inserted)}
    own.emulator.restart()
    own.session.close()
    assert {entry_id: own.get(f"{own.entries_path()}({entry_id})").text for entry_id in raw} == raw
