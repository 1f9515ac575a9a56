"""Environments with data of their own: the sandbox starts as a copy of production's seeded data (the
same companies, ids and entries) and diverges afterwards, each environment numbering its entries and
keeping its changes over a restart; an unknown environment is refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from airflow_provider_bc.testing.emulator import EmulatorError, EmulatorHandle
from tests.emulator.conftest import Api
from tests.emulator.test_emulator_batch import gets, post_batch

ENTRIES = 300
SANDBOX = "sandbox"


def _sandbox(api: Api, path: str) -> str:
    """The URL of ``path`` (relative to the API root) in the sandbox."""
    return api.emulator.api_url(environment=SANDBOX) + path


def _entries(api: Api, url: str) -> list[dict[str, Any]]:
    """Every entry a collection read of ``url`` returns, following nextLinks."""
    return [entry for _, body in api.pages(url) for entry in body["value"]]


def _entry(api: Api, url: str) -> dict[str, Any] | None:
    """The entry at ``url``, or None for BC's 404."""
    response = api.get(url)
    if response.status_code == 404:
        api.assert_error(response, 404, "Internal_RecordNotFound")
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body.pop("@odata.context")
    return body


def _in_both(api: Api, entry_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The entry of the default company with ``entry_id`` as production and the sandbox send it."""
    path = f"{api.entries_path()}({entry_id})"
    return _entry(api, path), _entry(api, _sandbox(api, path))


def test_the_sandbox_starts_as_production_s_seeded_data() -> None:
    with EmulatorHandle.start(entries=ENTRIES) as emulator:
        api = Api(emulator, emulator.token())
        seeded = _entries(api, api.entries_path())
        production = api.get("/companies").json()["value"]
        inserted = emulator.insert_entry(description="posted in production")
        emulator.modify_entry(None, seeded[3]["id"], description="changed in production")
        emulator.post_cost_adjustment(None, seeded[4]["id"], 1)
        emulator.reserve_entries()
        emulator.skip_entry_numbers(5)

        assert api.get(_sandbox(api, "/companies")).json()["value"] == production  # the same companies and ids
        assert _entries(api, _sandbox(api, api.entries_path())) == seeded  # none of production's changes
        other = api.entries_path(emulator.companies[1]["id"])
        assert _entries(api, _sandbox(api, other)) == _entries(api, other)
        assert emulator.insert_entry(environment=SANDBOX)["entryNumber"] == ENTRIES + 1  # its own sequence
        assert inserted["entryNumber"] == ENTRIES + 1
        api.session.close()


def test_a_change_is_seen_only_in_its_environment(own: Api) -> None:
    emulator = own.emulator
    in_production = emulator.insert_entry(description="production only")
    in_sandbox = emulator.insert_entry(environment=SANDBOX, description="sandbox only")
    assert _in_both(own, in_production["id"]) == (in_production, None)
    assert _in_both(own, in_sandbox["id"]) == (None, in_sandbox)

    before, _ = _in_both(own, emulator.documented_entry_id)
    modified = emulator.modify_entry(None, emulator.documented_entry_id, environment=SANDBOX, quantity=9)
    assert _in_both(own, emulator.documented_entry_id) == (before, modified)
    adjusted = emulator.post_cost_adjustment(None, emulator.documented_entry_id, Decimal("0.5"), environment=SANDBOX)
    assert _in_both(own, emulator.documented_entry_id) == (before, adjusted)

    (reserved,) = emulator.reserve_entries(environment=SANDBOX)
    with pytest.raises(EmulatorError, match=r"entries/commit: 404 .*no reserved item ledger entry"):
        emulator.commit_entries([reserved["id"]])  # production has no such open posting
    assert emulator.commit_entries([reserved["id"]], environment=SANDBOX) == [reserved]
    assert _in_both(own, reserved["id"]) == (None, reserved)


def test_a_batch_reads_the_environment_its_urls_name(own: Api) -> None:
    in_sandbox = own.emulator.insert_entry(environment=SANDBOX)
    entry = f"{own.entries_path()}({in_sandbox['id']})"
    sandbox_path = f"/v2.0/{own.emulator.tenant_id}/{SANDBOX}/api/v2.0{entry}"
    answers = post_batch(own, gets(entry.lstrip("/"), sandbox_path)).json()["responses"]
    assert [answer["status"] for answer in answers] == [404, 200]
    assert answers[1]["body"]["id"] == in_sandbox["id"]


@pytest.mark.parametrize(
    ("call", "body"),
    [
        ("entries", {"fields": {}}),
        ("entries/modify", {"entry_id": "00000000-0000-0000-0000-000000000000", "fields": {"quantity": 1}}),
        ("entries/cost_adjustment", {"entry_id": "00000000-0000-0000-0000-000000000000", "amount": 1}),
        ("entries/reserve", {}),
        ("entries/commit", {"entry_ids": ["00000000-0000-0000-0000-000000000000"]}),
        ("entries/rollback", {"entry_ids": ["00000000-0000-0000-0000-000000000000"]}),
        ("entries/skip", {"count": 1}),
    ],
)
def test_an_unknown_environment_is_refused(own: Api, call: str, body: dict[str, Any]) -> None:
    url = f"{own.emulator.base_url}/_emulator/{call}"
    response = requests.post(url, json={**body, "environment": "staging"}, verify=own.emulator.ca_bundle, timeout=30)
    assert response.status_code == 404
    assert response.json()["error"] == "no environment 'staging' (known: production, sandbox)"
    response = requests.post(url, json={**body, "environment": 7}, verify=own.emulator.ca_bundle, timeout=30)
    assert response.status_code == 400
    assert "environment must be the name of an environment" in response.json()["error"]


def test_an_unknown_environment_in_the_api(own: Api) -> None:
    response = own.get(own.emulator.api_url(environment="staging") + "/companies")
    message = own.assert_error(response, 404, "BadRequest_ResourceNotFound")
    assert "The environment 'staging' does not exist." in message


def test_each_environment_keeps_its_changes_over_a_restart(own: Api) -> None:
    emulator = own.emulator
    in_production = emulator.insert_entry(description="kept in production")
    in_sandbox = emulator.insert_entry(environment=SANDBOX, description="kept in the sandbox")
    emulator.skip_entry_numbers(3, environment=SANDBOX)

    emulator.restart()
    own.session.close()

    assert _in_both(own, in_production["id"]) == (in_production, None)
    assert _in_both(own, in_sandbox["id"]) == (None, in_sandbox)
    assert emulator.insert_entry()["entryNumber"] == in_production["entryNumber"] + 1
    assert emulator.insert_entry(environment=SANDBOX)["entryNumber"] == in_sandbox["entryNumber"] + 4
