"""What a credential is made of, read and checked before any request: a certificate with its key, or
a federated token file. Problems raise :class:`BusinessCentralConfigError` naming the field to fix;
no message carries key material, a passphrase or a token."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from airflow_provider_bc.client.errors import BusinessCentralConfigError


class CredentialFields(Protocol):
    """The fields of the settings (:class:`~.settings.ClientSettings`) a credential is made of."""

    @property
    def source(self) -> str | None: ...
    @property
    def certificate(self) -> str | None: ...
    @property
    def certificate_path(self) -> str | None: ...
    @property
    def private_key(self) -> str | None: ...
    @property
    def private_key_path(self) -> str | None: ...
    @property
    def private_key_passphrase(self) -> str | None: ...
    @property
    def federated_token_file(self) -> str | None: ...


@dataclass(frozen=True)
class CertificateCredential:
    """An RSA private key (PKCS#8 PEM, unencrypted: MSAL signs with it) and its X.509 certificate."""

    private_key: str = field(repr=False)
    certificate: str
    #: SHA-256 fingerprint of the certificate, hex: what Entra shows as the certificate's thumbprint
    thumbprint: str


def _read(path: str, name: str, what: str, settings: CredentialFields) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BusinessCentralConfigError(
            name, f"cannot read the {what} file {path!r}: {exc.strerror or type(exc).__name__}", source=settings.source
        ) from None


def load_certificate(settings: CredentialFields) -> CertificateCredential:
    """The certificate credential of ``settings`` (``auth_type`` ``certificate``), checked: the key
    loads (with its passphrase), the certificate is valid now and holds the key's public half."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def fail(name: str, problem: str) -> BusinessCentralConfigError:
        return BusinessCentralConfigError(name, problem, source=settings.source)

    if settings.private_key:
        key_pem, key_field = settings.private_key.encode(), "private_key"
    elif settings.private_key_path:
        key_pem, key_field = (
            _read(settings.private_key_path, "private_key_path", "private key", settings),
            "private_key_path",
        )
    else:
        raise fail("private_key_path", "missing: set extra 'private_key_path' (a PEM file) or 'private_key' (PEM text)")
    if settings.certificate:
        cert_pem, cert_field = settings.certificate.encode(), "certificate"
    elif settings.certificate_path:
        cert_pem = _read(settings.certificate_path, "certificate_path", "certificate", settings)
        cert_field = "certificate_path"
    elif b"-----BEGIN CERTIFICATE-----" in key_pem:
        cert_pem, cert_field = key_pem, key_field
    else:
        raise fail("certificate_path", "missing: set extra 'certificate_path' (a PEM file) or 'certificate' (PEM text)")

    passphrase = settings.private_key_passphrase.encode() if settings.private_key_passphrase else None
    try:
        key = serialization.load_pem_private_key(key_pem, passphrase)
    except TypeError:  # encrypted without a passphrase, or a passphrase for a key that has none
        needs = (
            "is encrypted: put its passphrase in the connection's password"
            if passphrase is None
            else ("is not encrypted: leave the connection's password empty")
        )
        raise fail(key_field, f"the private key {needs}") from None
    except ValueError:
        problem = (
            "is not a PEM private key"
            if passphrase is None
            else (
                "could not be decrypted with the passphrase in the connection's password (or is not a PEM private key)"
            )
        )
        raise fail(key_field, problem) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise fail(key_field, f"the private key is {type(key).__name__.lstrip('_')}: Entra ID needs an RSA key")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise fail(cert_field, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(serialization.Encoding.DER, spki) != key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        raise fail(
            cert_field,
            f"the certificate (subject {cert.subject.rfc4514_string()!r}) does not match the private key: "
            "use the certificate made with this key (the one uploaded to the Entra app registration)",
        )
    now = datetime.datetime.now(datetime.timezone.utc)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise fail(
            cert_field,
            f"the certificate is valid from {cert.not_valid_before_utc:%Y-%m-%d} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}, not now: create a new one and upload it to the app registration",
        )
    unencrypted = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return CertificateCredential(
        private_key=unencrypted,
        certificate=cert.public_bytes(serialization.Encoding.PEM).decode(),
        thumbprint=cert.fingerprint(hashes.SHA256()).hex(),
    )


def read_federated_token(settings: CredentialFields) -> str:
    """The client assertion in the federated token file of ``settings``, read now (it rotates)."""
    path = settings.federated_token_file
    if not path:
        raise BusinessCentralConfigError(
            "federated_token_file",
            "missing: set extra 'federated_token_file' or the environment variable AZURE_FEDERATED_TOKEN_FILE "
            "(Azure workload identity sets it in the pod)",
            source=settings.source,
        )
    token = _read(path, "federated_token_file", "federated token", settings).decode("utf-8", "replace").strip()
    if not token:
        raise BusinessCentralConfigError(
            "federated_token_file", f"the federated token file {path!r} is empty", source=settings.source
        )
    return token
