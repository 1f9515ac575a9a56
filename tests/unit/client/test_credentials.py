"""Each auth type's credential is checked when the connection is read: a missing or unreadable file,
a certificate not matching its key, an unknown auth type each name the field to fix, and no message
or ``repr`` carries a key or a passphrase."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralConfigError
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.hooks.connection_settings import settings_from_connection
from airflow_provider_bc.testing.credentials import FederatedIssuer, make_certificate

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TENANT = {"tenant_id": "contoso.onmicrosoft.com"}


def connect(password: str | None = None, login: str | None = CLIENT_ID, **extra: Any) -> ClientSettings:
    return settings_from_connection("bc", login=login, password=password, host=None, extra={**TENANT, **extra})


def refused(field: str, **kwargs: Any) -> str:
    with pytest.raises(BusinessCentralConfigError) as caught:
        connect(**kwargs)
    assert caught.value.field == field, str(caught.value)
    return str(caught.value)


def test_an_unknown_auth_type_lists_the_known_ones() -> None:
    message = refused("auth_type", password="x" * 12, auth_type="kerberos")
    assert "'kerberos' is unknown: use one of client_secret, certificate, workload_identity" in message
    assert "use basic" in refused("auth_type", password="x" * 12, auth_type="ntlm")


def test_a_certificate_from_files_gives_its_sha256_thumbprint(tmp_path: Path) -> None:
    from airflow_provider_bc.client.credentials import load_certificate

    cert_path, key_path = make_certificate().write(tmp_path)
    settings = connect(auth_type="certificate", certificate_path=str(cert_path), private_key_path=str(key_path))
    credential = load_certificate(settings)
    assert len(credential.thumbprint) == 64
    assert "PRIVATE KEY" not in repr(settings) + repr(credential)


def test_inline_pem_and_a_combined_key_file_work_too(tmp_path: Path) -> None:
    pair = make_certificate()
    connect(auth_type="certificate", certificate=pair.certificate, private_key=pair.private_key)
    combined = tmp_path / "both.pem"
    combined.write_text(pair.private_key + pair.certificate)
    connect(auth_type="certificate", private_key_path=str(combined))


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    cert_path, _ = make_certificate().write(tmp_path)
    message = refused(
        "private_key_path",
        auth_type="certificate",
        certificate_path=str(cert_path),
        private_key_path=str(tmp_path / "nope.key"),
    )
    assert "cannot read the private key file" in message and "No such file" in message
    refused("private_key_path", auth_type="certificate", certificate_path=str(cert_path))


def test_a_certificate_not_matching_its_key_says_so(tmp_path: Path) -> None:
    cert_path, _ = make_certificate().write(tmp_path, "one")
    _, key_path = make_certificate().write(tmp_path, "other")
    message = refused(
        "certificate_path", auth_type="certificate", certificate_path=str(cert_path), private_key_path=str(key_path)
    )
    assert "does not match the private key" in message


def test_an_expired_certificate_is_refused(tmp_path: Path) -> None:
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=40)
    cert_path, key_path = make_certificate(valid_from=start, days=30).write(tmp_path)
    message = refused(
        "certificate_path", auth_type="certificate", certificate_path=str(cert_path), private_key_path=str(key_path)
    )
    assert "not now: create a new one" in message


def test_the_passphrase_comes_from_the_password(tmp_path: Path) -> None:
    passphrase = "correct horse battery staple"
    cert_path, key_path = make_certificate(passphrase=passphrase).write(tmp_path)
    files = {"auth_type": "certificate", "certificate_path": str(cert_path), "private_key_path": str(key_path)}
    settings = connect(password=passphrase, **files)
    assert passphrase not in repr(settings)
    assert "put its passphrase in the connection's password" in refused("private_key_path", **files)
    message = refused("private_key_path", password="wrong passphrase", **files)
    assert "could not be decrypted" in message and "wrong passphrase" not in message


def test_a_certificate_file_without_a_certificate(tmp_path: Path) -> None:
    _, key_path = make_certificate().write(tmp_path)
    message = refused(
        "certificate_path", auth_type="certificate", certificate_path=str(key_path), private_key_path=str(key_path)
    )
    assert "holds no PEM certificate" in message
    assert "BEGIN" in message and "PRIVATE KEY" not in message


def test_the_federated_token_file_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = FederatedIssuer().write_token_file(tmp_path / "token", "system:serviceaccount:airflow:worker")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    assert connect(auth_type="workload_identity").federated_token_file == str(token_file)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_TENANT_ID", "fabrikam.onmicrosoft.com")
    extra = {"auth_type": "workload_identity"}
    from_pod = settings_from_connection("bc", login=None, password=None, host=None, extra=extra)
    assert (from_pod.client_id, from_pod.tenant_id) == (CLIENT_ID, "fabrikam.onmicrosoft.com")
    assert (
        connect(login="22222222-2222-3333-4444-555555555555", auth_type="workload_identity").tenant_id
        == (
            TENANT["tenant_id"]  # what the connection names wins
        )
    )
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE")
    assert "AZURE_FEDERATED_TOKEN_FILE" in refused("federated_token_file", auth_type="workload_identity")


def test_an_unreadable_or_empty_token_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)
    message = refused("federated_token_file", auth_type="workload_identity", federated_token_file=str(tmp_path))
    assert "cannot read the federated token file" in message
    (tmp_path / "empty").write_text("\n")
    message = refused(
        "federated_token_file", auth_type="workload_identity", federated_token_file=str(tmp_path / "empty")
    )
    assert "is empty" in message


def test_managed_identity_needs_no_login_and_basic_no_tenant() -> None:
    assert connect(login=None, auth_type="managed_identity").client_id == ""
    assert "names no managed identity" in refused("client_id", login="bc-reader", auth_type="managed_identity")
    host = "https://bc.contoso.local:7048/BC"
    basic = settings_from_connection("bc", login="ADMIN", password="k" * 44, host=host, extra={"auth_type": "basic"})
    assert basic.tenant_id == "" and "k" * 44 not in repr(basic)
    assert ApiUrls(basic).service_root == "https://bc.contoso.local:7048/BC/api/v2.0"
    assert "web service access key" in refused("client_secret", password=None, auth_type="basic")
    assert "https://{server}:{port}/{instance}" in refused("api_host", password="k" * 44, auth_type="basic")


@pytest.mark.parametrize("auth_type", ["client_secret", "certificate", "workload_identity", "managed_identity"])
def test_an_entra_auth_type_without_a_tenant_says_where_to_set_it(
    auth_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form cannot require Tenant ID for some auth types only: the settings name it when missing."""
    monkeypatch.delenv("AZURE_TENANT_ID", raising=False)
    cert_path, key_path = make_certificate().write(tmp_path)
    token_file = FederatedIssuer().write_token_file(tmp_path / "token", "system:serviceaccount:airflow:worker")
    extras = {
        "certificate": {"certificate_path": str(cert_path), "private_key_path": str(key_path)},
        "workload_identity": {"federated_token_file": str(token_file)},
    }.get(auth_type, {})
    password = None if auth_type == "certificate" else "x" * 12  # a certificate's password is its key's passphrase
    with pytest.raises(BusinessCentralConfigError) as caught:
        settings_from_connection(
            "bc", login=CLIENT_ID, password=password, host=None, extra={"auth_type": auth_type, **extras}
        )
    assert caught.value.field == "tenant_id"
    assert f"missing: auth_type {auth_type} gets its token from Microsoft Entra ID" in str(caught.value)
    assert "set extra 'tenant_id' (the form's Tenant ID)" in str(caught.value) and "'bc'" in str(caught.value)
