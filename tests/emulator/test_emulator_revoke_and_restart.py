"""Server-side token revocation, and an emulator that restarts or goes away and comes back in place."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_bc.testing.emulator import EmulatorError, EmulatorHandle

REVOKED = 'error="invalid_token", error_description="The token is revoked"'


def _assert_revoked(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "Authentication_InvalidCredentials"
    assert REVOKED in response.headers["WWW-Authenticate"]


def _get(emulator: EmulatorHandle, path: str, token: str, params: dict[str, Any] | None = None) -> requests.Response:
    """A GET on its own connection, relative to the API root."""
    return requests.get(
        emulator.api_url() + path,
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        verify=emulator.ca_bundle,
        timeout=60,
    )


def _port(emulator: EmulatorHandle) -> int:
    match = re.fullmatch(r"https://127\.0\.0\.1:(\d+)", emulator.base_url)
    assert match
    return int(match.group(1))


def test_revoked_tokens_are_refused_and_new_ones_work(api: Any) -> None:
    client_id, secret = api.emulator.register_client()
    old = api.emulator.token(client_id, secret)
    assert api.get("/companies", token=old).status_code == 200
    assert api.emulator.revoke_tokens(client_id) == client_id
    _assert_revoked(api.get("/companies", token=old))
    new = api.emulator.token(client_id, secret)
    assert api.get("/companies", token=new).status_code == 200
    _assert_revoked(api.get("/companies", token=old))  # still refused
    assert api.get("/companies").status_code == 200  # other clients' tokens are untouched


def test_a_second_revocation_refuses_the_tokens_issued_between(api: Any) -> None:
    client_id, secret = api.emulator.register_client()
    first = api.emulator.token(client_id, secret)
    api.emulator.revoke_tokens(client_id)
    second = api.emulator.token(client_id, secret)
    api.emulator.revoke_tokens(client_id)
    third = api.emulator.token(client_id, secret)
    _assert_revoked(api.get("/companies", token=first))
    _assert_revoked(api.get("/companies", token=second))
    assert api.get("/companies", token=third).status_code == 200


def test_revoking_the_start_up_client_until_reset(api: Any) -> None:
    try:
        assert api.emulator.revoke_tokens() == api.emulator.client_id
        _assert_revoked(api.get("/companies"))  # the session's token
        assert api.get("/companies", token=api.emulator.token()).status_code == 200
    finally:
        api.emulator.reset()
    assert api.get("/companies").status_code == 200  # reset lifts revocations (documented)


def test_revoking_an_unknown_client(bc_emulator: EmulatorHandle) -> None:
    with pytest.raises(EmulatorError, match=r"revoke: 404 .*no client application with id nobody"):
        bc_emulator.revoke_tokens("nobody")


def test_restart_in_place(api: Any) -> None:
    emulator = api.emulator
    before = dict(emulator.info)
    ca_before = Path(emulator.ca_bundle).read_bytes()
    client_id, secret = emulator.register_client()
    token = emulator.token(client_id, secret)
    headers = {"Prefer": "odata.maxpagesize=3"}
    first_page = api.get(api.entries_path(), headers=headers).json()
    next_link = first_page["@odata.nextLink"]
    second_page = api.get(next_link, headers=headers).json()
    emulator.add_fault(500, count=5)

    emulator.restart()

    assert emulator.running and emulator.process.pid != before["pid"]
    assert {**emulator.info, "pid": before["pid"]} == before  # same URL, client, secret, CA path
    assert Path(emulator.ca_bundle).read_bytes() == ca_before
    assert emulator.stats()["faults_pending"] == [] and emulator.stats()["requests"] == {}
    with requests.Session() as fresh:  # a new TLS connection verifies against the same CA bundle path
        response = fresh.get(
            api.url("/companies"), headers={"Authorization": f"Bearer {token}"}, verify=emulator.ca_bundle, timeout=60
        )
        assert response.status_code == 200
    assert api.get("/companies").status_code == 200  # the session's token, on the old session's pool
    assert api.get(next_link, headers=headers).json() == second_page
    assert emulator.token(client_id, secret)  # the registered client kept its secret
    assert emulator.token()


def test_down_refuses_connections_then_comes_back(api: Any) -> None:
    port = _port(api.emulator)
    with api.emulator.down():
        assert not api.emulator.running
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=10).close()
        with pytest.raises(requests.exceptions.ConnectionError):
            api.get("/companies")
        with pytest.raises(requests.exceptions.ConnectionError):
            api.emulator.token()
    assert api.emulator.running and _port(api.emulator) == port
    assert api.get("/companies").status_code == 200


def test_start_process_refuses_a_running_emulator(bc_emulator: EmulatorHandle) -> None:
    with pytest.raises(EmulatorError, match="still running"):
        bc_emulator.start_process()


@pytest.fixture(scope="module")
def small_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """An emulator of its own (port asked as 0 on the command line), on a state directory of its own."""
    with EmulatorHandle.start(entries=40, state_dir=tmp_path_factory.mktemp("state"), port=0) as emulator:
        yield emulator


def test_restart_keeps_inserted_entries_and_revocations(small_emulator: EmulatorHandle) -> None:
    emulator = small_emulator
    token = emulator.token()
    company = emulator.companies[2]["id"]
    entries = f"/companies({company})/itemLedgerEntries"
    inserted = emulator.insert_entry(company_id=company, description="Kept over a restart", quantity=3)
    client_id, secret = emulator.register_client()
    revoked = emulator.token(client_id, secret)
    emulator.revoke_tokens(client_id)

    emulator.restart()

    read = _get(emulator, f"{entries}({inserted['id']})", token).json()
    read.pop("@odata.context")
    assert read == inserted
    newest = _get(emulator, entries, token, {"$orderby": "entryNumber desc", "$top": 2}).json()["value"]
    assert newest[0] == inserted and newest[1]["entryNumber"] == inserted["entryNumber"] - 1  # inserted once
    _assert_revoked(_get(emulator, "/companies", revoked))  # a restart does not lift a revocation
    assert _get(emulator, "/companies", emulator.token(client_id, secret)).status_code == 200
    emulator.reset()
    assert _get(emulator, "/companies", revoked).status_code == 200


def test_a_new_start_on_the_same_state_dir_continues(tmp_path: Path) -> None:
    with EmulatorHandle.start(entries=20, state_dir=tmp_path) as first:
        token, info = first.token(), dict(first.info)
        ca = Path(first.ca_bundle).read_bytes()
    assert (tmp_path / "identity.json").stat().st_mode & 0o077 == 0  # it holds secrets
    with EmulatorHandle.start(entries=20, state_dir=tmp_path) as second:
        assert (second.client_id, second.client_secret) == (info["client_id"], info["client_secret"])
        assert Path(second.ca_bundle).read_bytes() == ca
        assert _get(second, "/companies", token).status_code == 200
