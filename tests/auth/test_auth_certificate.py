"""Certificate credentials with real MSAL against the emulator: MSAL signs a client assertion
(PS256, SHA-256 thumbprint, ``x5c``) that the emulator checks against the registered certificate."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from airflow_provider_bc.client.auth import tokens as auth
from airflow_provider_bc.client.errors import BusinessCentralAuthError
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.testing.credentials import CertificatePair, make_certificate
from tests.auth.conftest import read_documented_entry
from tests.secret_scan import SecretScanner

PASSPHRASE = "a passphrase for the test key"


@pytest.fixture
def registered(bc_emulator: Any, secret_scanner: SecretScanner) -> tuple[str, CertificatePair]:
    """A new app registration with a certificate (its key encrypted with :data:`PASSPHRASE`)."""
    secret_scanner.add_secret("private key passphrase", PASSPHRASE)
    pair = make_certificate(passphrase=PASSPHRASE)
    client_id, _ = bc_emulator.register_client(certificate=pair.certificate)
    return client_id, pair


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_certificate_gets_a_token_and_reads_the_documented_entry(
    bc_emulator: Any,
    connect: Callable[..., ClientSettings],
    registered: tuple[str, CertificatePair],
    documented_entry: dict[str, Any],
    tmp_path: Path,
    path: str,
) -> None:
    client_id, pair = registered
    cert_path, key_path = pair.write(tmp_path)
    settings = connect(
        client_id, PASSPHRASE, auth_type="certificate", certificate_path=str(cert_path), private_key_path=str(key_path)
    )
    entry = read_documented_entry(settings, bc_emulator.documented_entry_id, path)
    assert entry["entryNumber"] == documented_entry["entryNumber"]
    assert entry["description"] == documented_entry["description"]
    assert bc_emulator.stats()["tokens_issued"] == 1


def test_one_msal_app_per_certificate_keyed_by_its_thumbprint(
    connect: Callable[..., ClientSettings], registered: tuple[str, CertificatePair], tmp_path: Path
) -> None:
    client_id, pair = registered
    cert_path, key_path = pair.write(tmp_path)
    files = {"auth_type": "certificate", "certificate_path": str(cert_path), "private_key_path": str(key_path)}
    first = auth.TokenProvider(connect(client_id, PASSPHRASE, **files))
    second = auth.TokenProvider(connect(client_id, PASSPHRASE, **files))
    assert first.token() and second.token()
    assert first.credential is second.credential
    other_cert, other_key = make_certificate().write(tmp_path, "other")
    files.update(certificate_path=str(other_cert), private_key_path=str(other_key))
    other = auth.TokenProvider(connect(client_id, None, **files))
    assert other.credential is not first.credential
    key = next(key for key, credential in auth._credentials.items() if credential is first.credential)
    assert key[0] == "certificate" and "PRIVATE KEY" not in repr(key) and PASSPHRASE not in repr(key)


def test_a_certificate_not_registered_is_a_typed_error_saying_what_to_upload(
    connect: Callable[..., ClientSettings], registered: tuple[str, CertificatePair], tmp_path: Path
) -> None:
    client_id, _ = registered
    cert_path, key_path = make_certificate().write(tmp_path, "unregistered")
    settings = connect(
        client_id, None, auth_type="certificate", certificate_path=str(cert_path), private_key_path=str(key_path)
    )
    with pytest.raises(BusinessCentralAuthError) as caught:
        read_documented_entry(settings, str(uuid.uuid4()))
    message = str(caught.value)
    assert "invalid_client: AADSTS700027" in message
    assert "uploaded to the app registration of client id" in message
    assert settings.auth_type == "certificate" and caught.value.code == "invalid_client"


def _x5t_s256(pair: CertificatePair) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(pair.certificate.encode()).fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _assertion(bc_emulator: Any, pair: CertificatePair, client_id: str, **claims: Any) -> dict[str, str]:
    """A token request with a client assertion signed by ``pair``'s key, with ``claims`` changed."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pair.private_key.encode(), PASSPHRASE.encode())
    token_endpoint = f"{bc_emulator.authority}/{bc_emulator.tenant_id}/oauth2/v2.0/token"
    now = int(time.time())
    body = {"aud": token_endpoint, "iss": client_id, "sub": client_id, "exp": now + 600, "nbf": now, **claims}
    assertion = jwt.encode(body, key, algorithm="PS256", headers={"x5t#S256": _x5t_s256(pair)})
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "scope": "https://api.businesscentral.dynamics.com/.default",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({}, None),
        ({"exp": int(time.time()) - 60}, 700024),
        ({"aud": "https://login.example/token"}, 700212),
        ({"iss": "someone-else"}, 700023),
    ],
    ids=["valid", "expired", "wrong audience", "wrong issuer"],
)
def test_the_emulator_checks_the_assertion_as_entra_does(
    bc_emulator: Any, registered: tuple[str, CertificatePair], claims: dict[str, Any], code: int | None
) -> None:
    client_id, pair = registered
    response = requests.post(
        f"{bc_emulator.authority}/{bc_emulator.tenant_id}/oauth2/v2.0/token",
        data=_assertion(bc_emulator, pair, client_id, **claims),
        verify=bc_emulator.ca_bundle,
        timeout=30,
    )
    if code is None:
        assert response.status_code == 200 and response.json()["token_type"] == "Bearer"
    else:
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client" and response.json()["error_codes"] == [code]


def test_the_hooks_test_connection_works_with_a_certificate_connection(
    bc_emulator: Any, registered: tuple[str, CertificatePair], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the connection form saves it: login the client id, password the key's passphrase, files in extras."""
    from airflow_provider_bc.hooks.business_central import BusinessCentralHook

    client_id, pair = registered
    cert_path, key_path = pair.write(tmp_path)
    conn = bc_emulator.airflow_connection(
        auth_type="certificate", certificate_path=str(cert_path), private_key_path=str(key_path)
    )
    conn["login"], conn["password"] = client_id, PASSPHRASE
    monkeypatch.setenv("AIRFLOW_CONN_BC_CERTIFICATE", json.dumps(conn))
    ok, message = BusinessCentralHook("bc_certificate").test_connection()
    assert ok, message
    assert message.startswith(f"Connected to environment {bc_emulator.environment!r}")
