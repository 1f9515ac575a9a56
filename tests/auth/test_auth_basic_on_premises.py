"""Business Central on-premises: ``https://{host}:{port}/{instance}/api/v2.0`` with Basic auth (user
name and web service access key), no tenant and no token."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_bc.client.errors import BusinessCentralAuthError
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import ClientSettings
from tests.auth.conftest import read_documented_entry
from tests.secret_scan import SecretScanner


@pytest.fixture
def user(bc_emulator: Any, secret_scanner: SecretScanner) -> tuple[str, str]:
    """A new on-premises user and its web service access key."""
    name, key = bc_emulator.add_web_service_user()
    secret_scanner.add_secret("web service access key", key)
    return name, key


@pytest.mark.parametrize("path", ["sync", "async"])
def test_basic_auth_reads_the_documented_entry_on_premises(
    bc_emulator: Any,
    connect: Callable[..., ClientSettings],
    user: tuple[str, str],
    documented_entry: dict[str, Any],
    path: str,
) -> None:
    settings = connect(*user, host=bc_emulator.on_premises_url(), auth_type="basic", tenant_id=None)
    assert ApiUrls(settings).service_root == f"{bc_emulator.on_premises_url()}/api/v2.0"
    entry = read_documented_entry(settings, bc_emulator.documented_entry_id, path)
    assert entry["entryNumber"] == documented_entry["entryNumber"]
    assert bc_emulator.stats()["tokens_issued"] == 0
    assert [r["route"] for r in bc_emulator.recent_requests()] == ["itemLedgerEntry"]


def test_a_wrong_access_key_is_a_typed_error_saying_what_to_fix(
    bc_emulator: Any, connect: Callable[..., ClientSettings], user: tuple[str, str]
) -> None:
    settings = connect(user[0], "not-the-access-key", host=bc_emulator.on_premises_url(), auth_type="basic")
    with pytest.raises(BusinessCentralAuthError) as caught:
        read_documented_entry(settings, bc_emulator.documented_entry_id)
    message = str(caught.value)
    assert f"refused user {user[0]!r} (HTTP 401)" in message and "Web Service Access Key" in message
    assert "not-the-access-key" not in message
    assert [r["status"] for r in bc_emulator.recent_requests()] == [401]  # nothing to renew: not retried


def test_the_emulator_answers_on_premises_401_and_keeps_bearer_and_basic_apart(
    bc_emulator: Any, user: tuple[str, str]
) -> None:
    basic = "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    on_premises = f"{bc_emulator.on_premises_url()}/api/v2.0/companies"
    online = f"{bc_emulator.api_url()}/companies"

    def status(url: str, authorization: str) -> requests.Response:
        return requests.get(url, headers={"Authorization": authorization}, verify=bc_emulator.ca_bundle, timeout=30)

    assert status(on_premises, basic).status_code == 200
    refused = status(on_premises, f"Bearer {bc_emulator.token()}")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == 'Basic realm=""'
    assert refused.json()["error"]["code"] == "Unauthorized"
    assert status(online, basic).status_code == 401  # Basic stopped working online
