"""Entra ID tokens through MSAL: one application object, and so one token cache, per credential
(client secret, certificate, federated token file or managed identity; ``basic`` needs none).

MSAL serves tokens from its cache and fetches a new one shortly before expiry; this module only
decides which application object a request uses and turns every way a token request can fail
into a typed error. Each token request is sent once: Entra's 429/5xx, unreadable answers and
connection failures are raised as transient errors, which the caller's retry loop
(:mod:`.retry`) retries from the same budget as the API request that needs the token. (They
never reach MSAL as answers, so MSAL does not replay a cached failure for its throttle time.)
A redirect is not followed: it is raised as an auth error naming the host it points to.
The answers are checked by the sessions of :mod:`.entra_sessions`; a managed identity's MSAL
client is :mod:`.managed_identity`'s.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from airflow_provider_bc.client.auth.entra_sessions import EntraSession
from airflow_provider_bc.client.auth.managed_identity import ManagedIdentitySource
from airflow_provider_bc.client.credentials import CertificateCredential, load_certificate, read_federated_token
from airflow_provider_bc.client.errors import (
    BusinessCentralAuthError,
    BusinessCentralError,
    BusinessCentralThrottledError,
)
from airflow_provider_bc.client.http.transport import no_answer
from airflow_provider_bc.client.settings import ClientSettings

log = logging.getLogger(__name__)

#: OAuth error codes for which asking again later may work
_ENTRA_TRANSIENT = frozenset({"temporarily_unavailable", "server_error", "http_error"})


class _TokenSource(Protocol):
    """What a credential's MSAL object does for us: a token from its cache or Entra, and forgetting it."""

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]: ...

    def remove_tokens_for_client(self) -> None: ...


@dataclass
class _Credential:
    """The MSAL object of one credential, and the lock that makes concurrent callers of a cold cache
    wait for one token request instead of each sending their own."""

    app: _TokenSource
    lock: threading.Lock = field(default_factory=threading.Lock)


_credentials: dict[tuple[Any, ...], _Credential] = {}
_credentials_lock = threading.Lock()


def _app_key(settings: ClientSettings, certificate: CertificateCredential | None) -> tuple[Any, ...]:
    """What identifies a credential: its auth type, authority, client id and, never the secret itself,
    the secret's digest (a rotated secret gets a new app), the certificate's thumbprint or the token file."""
    if settings.auth_type == "client_secret":
        identity = hashlib.sha256(settings.client_secret.encode()).hexdigest()
    elif certificate is not None:
        identity = certificate.thumbprint
    else:
        identity = settings.federated_token_file or ""
    proxies = tuple(sorted(settings.proxies.items()))
    return (settings.auth_type, settings.authority_url.lower(), settings.client_id, identity, settings.verify, proxies)


def _client_credential(settings: ClientSettings, certificate: CertificateCredential | None) -> Any:
    """MSAL's ``client_credential`` for the auth type: the secret, the certificate (SHA-256 thumbprint
    and ``x5c``, from ``public_certificate``), or a callable reading the federated token file on each
    token request (it rotates)."""
    if certificate is not None:
        return {"private_key": certificate.private_key, "public_certificate": certificate.certificate}
    if settings.auth_type == "workload_identity":
        return {"client_assertion": lambda: read_federated_token(settings)}
    return settings.client_secret


def _build_app(settings: ClientSettings, certificate: CertificateCredential | None) -> _TokenSource:
    import msal
    from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

    if settings.auth_type == "managed_identity":
        return ManagedIdentitySource(settings)
    host = settings.authority.split("://", 1)[-1].split("/", 1)[0].lower()
    app: _TokenSource = msal.ConfidentialClientApplication(
        settings.client_id,
        client_credential=_client_credential(settings, certificate),
        authority=settings.authority_url,
        # Microsoft's own hosts need no discovery; any other host (sovereign proxy, emulator) is
        # trusted because the connection names it explicitly.
        instance_discovery=None if host in WELL_KNOWN_AUTHORITY_HOSTS else False,
        http_client=EntraSession(settings),
    )
    return app


def _what_to_check(settings: ClientSettings, certificate: CertificateCredential | None) -> str:
    """Where to look when Entra refuses the credential of ``settings``."""
    if certificate is not None:
        return (
            f"check that the certificate with SHA-256 thumbprint {certificate.thumbprint.upper()} is uploaded to "
            f"the app registration of client id {settings.client_id} (extras 'certificate_path', 'private_key_path')"
        )
    if settings.auth_type == "workload_identity":
        return (
            "check the app registration's federated credential: its issuer and subject must match the token in "
            f"{settings.federated_token_file} (extra 'federated_token_file')"
        )
    if settings.auth_type == "managed_identity":
        which = f"user-assigned identity {settings.client_id}" if settings.client_id else "system-assigned identity"
        return (
            f"check that the {which} is assigned to this host (login: a user-assigned identity's client id or "
            "resource id, or empty for the system-assigned one)"
        )
    return "check the connection's Client ID (login), Client Secret (password) and extra 'tenant_id'"


class TokenProvider:
    """Credentials for one connection's requests: a bearer token from the process-wide MSAL object of
    its credential, or (``basic``) the user name and web service access key for Basic auth."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._certificate = load_certificate(settings) if settings.auth_type == "certificate" else None
        self._credential: _Credential | None = None

    @property
    def credential(self) -> _Credential:
        """The process-wide MSAL object of this credential, created on first use.

        Creating it makes an HTTP request (tenant discovery), so it is deferred to the first token.
        """
        if self._credential is None:
            key = _app_key(self._settings, self._certificate)
            with _credentials_lock:
                credential = _credentials.get(key)
                if credential is None:
                    log.info(
                        "Creating MSAL client (%s) for client id %s at authority %s",
                        self._settings.auth_type,
                        self._settings.client_id or "(system-assigned identity)",
                        self._settings.authority_url,
                    )
                    credential = _credentials[key] = _Credential(_build_app(self._settings, self._certificate))
            self._credential = credential
        return self._credential

    def token(self) -> str:
        """A valid access token (MSAL's cache first; a new one from Entra when missing or near expiry);
        for ``basic``, the Basic credentials (``user:key`` in base64)."""
        settings = self._settings
        if settings.auth_type == "basic":
            return base64.b64encode(f"{settings.client_id}:{settings.client_secret}".encode()).decode()
        try:
            credential = self.credential
            with credential.lock:
                result = credential.app.acquire_token_for_client(scopes=[settings.scope])
        except BusinessCentralError:
            raise
        except requests.RequestException as exc:  # Entra unreachable, timed out, or not trusted
            raise no_answer(settings.authority_url, settings, None, exc) from None
        except Exception as exc:  # MSAL: the authority or the managed identity endpoint was not usable
            where = (
                "The managed identity endpoint"
                if settings.auth_type == "managed_identity"
                else (f"Entra ID authority {settings.authority_url}")
            )
            raise BusinessCentralAuthError(
                f"{where} is not usable (check extra 'tenant_id' and 'authority'; "
                f"{_what_to_check(settings, self._certificate)}): {type(exc).__name__}: {str(exc)[:300]}"
            ) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = str(result.get("error", "unknown_error")) if isinstance(result, dict) else "unknown_error"
            description = str(result.get("error_description", "")) if isinstance(result, dict) else ""
            error_class = BusinessCentralThrottledError if error in _ENTRA_TRANSIENT else BusinessCentralAuthError
            if settings.auth_type == "managed_identity":
                who = "The managed identity endpoint refused a token for " + (
                    f"client id {settings.client_id}" if settings.client_id else "the system-assigned identity"
                )
            else:
                who = f"Entra ID refused a token for client id {settings.client_id} in tenant {settings.tenant_id}"
            raise error_class(
                f"{who}: {error}: "
                f"{description.splitlines()[0] if description else ''}; {_what_to_check(settings, self._certificate)}",
                code=error,
            )
        if result.get("token_source") == "identity_provider":
            log.info(
                "Fetched a new Business Central token for client id %s",
                settings.client_id or "(system-assigned identity)",
            )
        return str(token)

    def invalidate(self) -> None:
        """Drop cached tokens for this credential (after Business Central answered 401)."""
        if self._settings.auth_type == "basic":
            return
        credential = self.credential
        with credential.lock:
            credential.app.remove_tokens_for_client()
