"""Workload identity with real MSAL against the emulator: the client assertion is the federated token
in a file (as Kubernetes projects it), read again for every token request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.client.auth.tokens import TokenProvider
from airflow_provider_bc.client.errors import BusinessCentralAuthError
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.testing.credentials import FederatedIssuer
from tests.auth.conftest import read_documented_entry

SUBJECT = "system:serviceaccount:airflow:worker"


@pytest.fixture(scope="module")
def issuer() -> FederatedIssuer:
    return FederatedIssuer()


@pytest.fixture
def federated_client(bc_emulator: Any, issuer: FederatedIssuer) -> str:
    """A new app registration trusting ``issuer``'s tokens for :data:`SUBJECT`."""
    client_id, _ = bc_emulator.register_client()
    bc_emulator.add_federated_credential(client_id, issuer.issuer, SUBJECT, issuer.public_key)
    return client_id


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_federated_token_file_gets_a_token_and_reads_the_documented_entry(
    bc_emulator: Any,
    connect: Callable[..., ClientSettings],
    issuer: FederatedIssuer,
    federated_client: str,
    documented_entry: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(issuer.write_token_file(tmp_path / "token", SUBJECT)))
    settings = connect(federated_client, None, auth_type="workload_identity")
    entry = read_documented_entry(settings, bc_emulator.documented_entry_id, path)
    assert entry["entryNumber"] == documented_entry["entryNumber"]
    assert bc_emulator.stats()["tokens_issued"] == 1


def test_a_rotated_token_file_is_read_for_the_next_token(
    bc_emulator: Any, connect: Callable[..., ClientSettings], issuer: FederatedIssuer, tmp_path: Path
) -> None:
    """The app trusts one subject at a time: the second token works only if the file is read again."""
    client_id, _ = bc_emulator.register_client()
    bc_emulator.add_federated_credential(client_id, issuer.issuer, "pod-a", issuer.public_key)
    token_file = issuer.write_token_file(tmp_path / "token", "pod-a")
    provider = TokenProvider(
        connect(client_id, None, auth_type="workload_identity", federated_token_file=str(token_file))
    )
    first = provider.token()
    bc_emulator.remove_federated_credential(client_id, "pod-a")
    bc_emulator.add_federated_credential(client_id, issuer.issuer, "pod-b", issuer.public_key)
    issuer.write_token_file(token_file, "pod-b")
    provider.invalidate()
    assert provider.token() != first


@pytest.mark.parametrize(
    ("subject", "lifetime", "entra_code"),
    [("revoked", 3600, "AADSTS70021"), (SUBJECT, -120, "AADSTS700024")],
    ids=["revoked subject", "expired token"],
)
def test_a_refused_federated_token_is_a_typed_error_naming_the_file(
    bc_emulator: Any,
    connect: Callable[..., ClientSettings],
    issuer: FederatedIssuer,
    federated_client: str,
    tmp_path: Path,
    subject: str,
    lifetime: float,
    entra_code: str,
) -> None:
    if subject == "revoked":
        bc_emulator.add_federated_credential(federated_client, issuer.issuer, subject, issuer.public_key)
        bc_emulator.remove_federated_credential(federated_client, subject)
    token_file = issuer.write_token_file(tmp_path / "token", subject, lifetime=lifetime)
    settings = connect(federated_client, None, auth_type="workload_identity", federated_token_file=str(token_file))
    with pytest.raises(BusinessCentralAuthError) as caught:
        read_documented_entry(settings, bc_emulator.documented_entry_id)
    message = str(caught.value)
    assert entra_code in message
    assert f"issuer and subject must match the token in {token_file}" in message
