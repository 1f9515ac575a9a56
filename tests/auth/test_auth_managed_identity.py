"""Managed identity with real MSAL against the emulator's App Service-style and IMDS-style endpoints,
selected through the environment variables MSAL reads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralAuthError
from airflow_provider_bc.client.settings import ClientSettings
from tests.auth.conftest import read_documented_entry
from tests.secret_scan import SecretScanner
from tests.support import without_managed_identity

RESOURCE_ID = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/airflow"
    "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/bc-reader"
)


@pytest.fixture
def on_host(bc_emulator: Any, monkeypatch: pytest.MonkeyPatch, secret_scanner: SecretScanner) -> Callable[..., None]:
    """``on_host(client_id, style)``: the emulator assigns the identity; MSAL is pointed at its endpoint."""
    without_managed_identity(monkeypatch)

    def assign(client_id: str | None, style: str) -> None:
        for name, value in bc_emulator.assign_managed_identity(client_id, style=style).items():
            monkeypatch.setenv(name, value)
            if name == "IDENTITY_HEADER":
                secret_scanner.add_secret("managed identity header", value)

    return assign


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize("style", ["app_service", "imds"])
@pytest.mark.parametrize("assigned", ["system", "user", "user by resource id"])
def test_a_managed_identity_gets_a_token_and_reads_the_documented_entry(
    bc_emulator: Any,
    connect: Callable[..., ClientSettings],
    on_host: Callable[..., None],
    documented_entry: dict[str, Any],
    assigned: str,
    style: str,
    path: str,
) -> None:
    client_id = {"system": None, "user": str(uuid.uuid4()), "user by resource id": RESOURCE_ID}[assigned]
    on_host(client_id, style)
    settings = connect(client_id, None, auth_type="managed_identity")
    entry = read_documented_entry(settings, bc_emulator.documented_entry_id, path)
    assert entry["entryNumber"] == documented_entry["entryNumber"]
    assert bc_emulator.stats()["tokens_issued"] == 0  # none from Entra's token endpoint: from the host's


@pytest.mark.parametrize("style", ["app_service", "imds"])
def test_an_identity_not_assigned_to_the_host_is_a_typed_error(
    bc_emulator: Any, connect: Callable[..., ClientSettings], on_host: Callable[..., None], style: str
) -> None:
    on_host(None, style)
    missing = str(uuid.uuid4())
    settings = connect(missing, None, auth_type="managed_identity")
    with pytest.raises(BusinessCentralAuthError) as caught:
        read_documented_entry(settings, bc_emulator.documented_entry_id)
    message = str(caught.value)
    assert message.startswith(f"The managed identity endpoint refused a token for client id {missing}")
    assert f"check that the user-assigned identity {missing} is assigned to this host" in message
