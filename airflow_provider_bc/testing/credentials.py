"""Test credentials for the emulator: a self-signed certificate with its RSA key, and a federated
token issuer (as Kubernetes' service account issuer) writing token files for workload identity."""

from __future__ import annotations

import datetime
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

#: the audience Entra expects in a federated token (Azure workload identity's default)
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"


@dataclass(frozen=True)
class CertificatePair:
    """A PEM certificate and its PEM private key (encrypted when made with a passphrase)."""

    certificate: str
    private_key: str = field(repr=False)

    def write(self, directory: Path, name: str = "client") -> tuple[Path, Path]:
        """Write ``{name}.crt`` and ``{name}.key`` (mode 600) to ``directory``; return both paths."""
        cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
        cert_path.write_text(self.certificate, encoding="ascii")
        key_path.touch(mode=0o600)
        key_path.write_text(self.private_key, encoding="ascii")
        return cert_path, key_path


def make_certificate(
    common_name: str = "airflow-provider-bc test client",
    *,
    passphrase: str | None = None,
    valid_from: datetime.datetime | None = None,
    days: int = 30,
) -> CertificatePair:
    """A new RSA key and a self-signed certificate for it, as uploaded to an app registration."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = valid_from or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    return CertificatePair(
        certificate=cert.public_bytes(serialization.Encoding.PEM).decode(),
        private_key=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode(),
    )


class FederatedIssuer:
    """An OIDC issuer of federated tokens (as a Kubernetes cluster's service account issuer): it signs
    tokens for a subject; the emulator trusts it through :attr:`public_key` given at registration."""

    def __init__(self, issuer: str = "https://oidc.cluster.example/issuer") -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.issuer = issuer
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def __repr__(self) -> str:
        return f"FederatedIssuer({self.issuer!r})"

    def token(self, subject: str, *, lifetime: float = 3600, audience: str = FEDERATED_AUDIENCE) -> str:
        """A signed federated token (JWT, RS256) for ``subject``; a negative ``lifetime`` makes it expired."""
        import jwt

        now = time.time()
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": int(now),
            "nbf": int(now) - 60,
            "exp": int(now + lifetime),
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm="RS256")

    def write_token_file(self, path: Path, subject: str, *, lifetime: float = 3600) -> Path:
        """Write (or rotate) the token file at ``path``, as the kubelet does; return ``path``."""
        path.touch(mode=0o600)
        path.write_text(self.token(subject, lifetime=lifetime), encoding="ascii")
        return path
