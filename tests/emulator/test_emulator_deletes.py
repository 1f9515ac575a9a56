"""Entries deleted in Business Central (a user deleting a record): the API no longer sends them (by id,
in collections, in ``$count``), their entry numbers stay used, and the deletion survives a restart. On
an emulator of this module's own, so the session's data stays as it was."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_bc.testing.emulator import EmulatorError
from tests.emulator.conftest import Api

ENTRIES = 300
SANDBOX = "sandbox"
MISSING = "00000000-0000-0000-0000-000000000000"


def _read(api: Api, url: str) -> dict[str, Any] | None:
    """The entry at ``url`` (without ``@odata.context``), or None for BC's 404 of a missing record."""
    response = api.get(url)
    if response.status_code == 404:
        api.assert_error(response, 404, "Internal_RecordNotFound")
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body.pop("@odata.context")
    return body


def _ids(api: Api, url: str) -> list[str]:
    """The ids a full collection read of ``url`` returns, following nextLinks (small pages)."""
    return [entry["id"] for _, body in api.pages(url, {"$select": "id"}, page_size=50) for entry in body["value"]]


def _count(api: Api) -> int:
    response = api.get(f"{api.entries_path()}/$count")
    assert response.status_code == 200, response.text
    return int(response.text)


def test_a_deleted_entry_is_gone_from_the_api_and_its_number_stays_used(own: Api) -> None:
    emulator = own.emulator
    seeded_id = _ids(own, own.entries_path())[7]
    newest = emulator.insert_entry(description="deleted soon")
    before = {entry_id: _read(own, f"{own.entries_path()}({entry_id})") for entry_id in (seeded_id, newest["id"])}
    count = _count(own)

    deleted = [emulator.delete_entry(None, seeded_id), emulator.delete_entry(None, newest["id"].upper())]

    assert deleted == list(before.values())  # each as it was
    for entry_id in before:
        assert _read(own, f"{own.entries_path()}({entry_id})") is None
    assert _count(own) == count - 2
    remaining = _ids(own, own.entries_path())
    assert len(remaining) == count - 2 and not set(before) & set(remaining)
    by_number = own.get(own.entries_path(), {"$filter": f"entryNumber eq {newest['entryNumber']}"})
    assert by_number.json()["value"] == []
    assert emulator.insert_entry()["entryNumber"] == newest["entryNumber"] + 1  # never the deleted one's


def test_deleting_an_unknown_or_deleted_entry_is_refused(own: Api) -> None:
    entry = own.emulator.insert_entry()
    own.emulator.delete_entry(own.emulator.default_company_id, entry["id"])
    for entry_id in (MISSING, entry["id"]):
        with pytest.raises(EmulatorError, match=r"entries/delete: 404 .*no item ledger entry"):
            own.emulator.delete_entry(None, entry_id)
    response = requests.post(
        f"{own.emulator.base_url}/_emulator/entries/delete", json={}, verify=own.emulator.ca_bundle, timeout=30
    )
    assert response.status_code == 400 and "entry_id must be" in response.json()["error"]
    with pytest.raises(EmulatorError, match=r"entries/delete: 404 .*no environment 'staging'"):
        own.emulator.delete_entry(None, MISSING, environment="staging")


def test_a_deletion_is_seen_only_in_its_environment(own: Api) -> None:
    emulator = own.emulator
    entry_id = _ids(own, own.entries_path())[3]
    kept = emulator.delete_entry(None, entry_id)
    in_sandbox = emulator.api_url(environment=SANDBOX) + f"{own.entries_path()}({entry_id})"
    assert _read(own, in_sandbox) == kept  # the sandbox, made now, copies the data as seeded
    emulator.delete_entry(None, entry_id, environment=SANDBOX)
    assert _read(own, in_sandbox) is None


def test_a_deletion_survives_a_restart(own: Api) -> None:
    emulator = own.emulator
    seeded_id = _ids(own, own.entries_path())[11]
    inserted = emulator.insert_entry(description="deleted before the restart")
    modified = emulator.modify_entry(None, inserted["id"], description="modified, then deleted")
    emulator.delete_entry(None, seeded_id)
    emulator.delete_entry(None, modified["id"])
    count, ids = _count(own), _ids(own, own.entries_path())

    emulator.restart()
    own.session.close()

    for entry_id in (seeded_id, inserted["id"]):
        assert _read(own, f"{own.entries_path()}({entry_id})") is None
    assert (_count(own), _ids(own, own.entries_path())) == (count, ids)
    assert emulator.insert_entry()["entryNumber"] == inserted["entryNumber"] + 1
