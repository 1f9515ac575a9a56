"""Business Central on-premises with Microsoft Entra ID: a server instance that trusts an Entra tenant
(credential type AccessControlService, ``ValidAudiences``), a connection host that carries the instance
path, and a token from the connection's authority for the connection's scope, with real MSAL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest

from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.errors import BusinessCentralAuthError
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import DEFAULT_SCOPE, ClientSettings
from airflow_provider_bc.testing.credentials import make_certificate
from tests.auth.conftest import read_documented_entry

#: the Application ID URI of the Business Central server's own app registration
SERVER_APP = "api://5a1e7a55-0b0c-4e7a-9a11-0000000b0c00"
BC_RESOURCE = DEFAULT_SCOPE.removesuffix("/.default")


def credential(bc_emulator: Any, auth_type: str, tmp_path: Path) -> tuple[str, str | None, dict[str, str]]:
    """``(login, password, extras)`` of a new app registration with a client secret or a certificate."""
    if auth_type == "client_secret":
        client_id, secret = bc_emulator.register_client()
        return client_id, secret, {}
    pair = make_certificate()
    client_id, _ = bc_emulator.register_client(certificate=pair.certificate)
    cert_path, key_path = pair.write(tmp_path)
    return client_id, None, {"certificate_path": str(cert_path), "private_key_path": str(key_path)}


def audience_of_last_token(bc_emulator: Any) -> str:
    return str(jwt.decode(bc_emulator.issued_tokens()[-1], options={"verify_signature": False})["aud"])


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize("auth_type", ["client_secret", "certificate"])
def test_an_entra_credential_reads_the_documented_entry_on_premises(
    bc_emulator: Any,
    connect: Callable[..., ClientSettings],
    documented_entry: dict[str, Any],
    tmp_path: Path,
    auth_type: str,
    path: str,
) -> None:
    """As Microsoft's setup has it: ValidAudiences holds the server's app and Business Central's API
    resource, so the default scope works; the host is ``https://{server}:{port}/{instance}``."""
    bc_emulator.configure(on_premises_valid_audiences=f"{SERVER_APP};{BC_RESOURCE}")
    login, password, extras = credential(bc_emulator, auth_type, tmp_path)
    settings = connect(login, password, host=bc_emulator.on_premises_url(), auth_type=auth_type, **extras)
    assert settings.on_premises and ApiUrls(settings).service_root == f"{bc_emulator.on_premises_url()}/api/v2.0"
    entry = read_documented_entry(settings, bc_emulator.documented_entry_id, path)
    assert entry["entryNumber"] == documented_entry["entryNumber"]
    api = [r for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntry"]
    assert [r["path"].split("?")[0] for r in api] == [
        f"/{bc_emulator.environment}/api/v2.0/companies({bc_emulator.default_company_id})/"
        f"itemLedgerEntries({bc_emulator.documented_entry_id})"
    ]
    assert [r["status"] for r in api] == [200] and bc_emulator.stats()["tokens_issued"] == 1
    assert audience_of_last_token(bc_emulator) == BC_RESOURCE


def test_authority_host_and_scope_of_another_cloud_are_used_together(
    bc_emulator: Any, connect: Callable[..., ClientSettings]
) -> None:
    """An on-premises server that trusts only its own app registration, in a tenant of another Entra
    cloud: the token comes from the connection's authority (another origin than the API's) for the
    connection's scope, and pages are followed on the configured API origin only."""
    bc_emulator.configure(on_premises_valid_audiences=SERVER_APP)
    login, secret = bc_emulator.register_client()
    authority = f"https://localhost:{urlsplit(bc_emulator.base_url).port}"  # stands in for login.microsoftonline.us
    settings = connect(
        login, secret, host=bc_emulator.on_premises_url(), authority=authority, scope=f"{SERVER_APP}/.default"
    )
    assert settings.authority_url == f"{authority}/{bc_emulator.tenant_id}"
    client = BusinessCentralClient(settings)
    try:
        pages = client.iter_pages(
            "itemLedgerEntries", filter="entryNumber le 6", orderby="entryNumber", select="entryNumber", page_size=2
        )
        numbers = [entry["entryNumber"] for page in pages for entry in page.entities]
    finally:
        client.close()
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert audience_of_last_token(bc_emulator) == SERVER_APP
    api = [r for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntries"]
    assert len(api) == 3 and all(r["path"].startswith(f"/{bc_emulator.environment}/api/v2.0/") for r in api)
    assert [r["route"] for r in bc_emulator.recent_requests() if r["authorization"]] == ["itemLedgerEntries"] * 3


def test_a_scope_the_server_does_not_accept_is_a_typed_auth_error(
    bc_emulator: Any, connect: Callable[..., ClientSettings]
) -> None:
    """The default scope against a server whose ValidAudiences lacks Business Central's API resource:
    refused (one new token is tried); the error says what to check and carries no secret."""
    bc_emulator.configure(on_premises_valid_audiences=SERVER_APP)
    login, secret = bc_emulator.register_client()
    settings = connect(login, secret, host=bc_emulator.on_premises_url())
    with pytest.raises(BusinessCentralAuthError) as caught:
        read_documented_entry(settings, bc_emulator.documented_entry_id)
    assert caught.value.status == 401
    assert f"ValidAudiences holds {BC_RESOURCE!r} (extra 'scope')" in str(caught.value)
    assert secret not in str(caught.value)
    assert [r["status"] for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntry"] == [401, 401]
    assert audience_of_last_token(bc_emulator) == BC_RESOURCE
