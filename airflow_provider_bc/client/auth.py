"""Entra ID tokens through MSAL: one application object, and so one token cache, per credential.

MSAL serves tokens from its cache and fetches a new one shortly before expiry; this module only
decides which application object a request uses and turns every way a token request can fail
into a typed error. Each token request is sent once: Entra's 429/5xx, unreadable answers and
connection failures are raised as transient errors, which the caller's retry loop
(:mod:`.retry`) retries from the same budget as the API request that needs the token. (They
never reach MSAL as answers, so MSAL does not replay a cached failure for its throttle time.)
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from airflow_provider_bc.client.errors import (
    BusinessCentralAuthError,
    BusinessCentralBadAnswerError,
    BusinessCentralError,
    BusinessCentralThrottledError,
)
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.transport import PinnedSession, no_answer

if TYPE_CHECKING:
    import msal

log = logging.getLogger(__name__)

#: OAuth error codes for which asking again later may work
_ENTRA_TRANSIENT = frozenset({"temporarily_unavailable", "server_error", "http_error"})


@dataclass
class _Credential:
    """The MSAL application of one credential, and the lock that makes concurrent callers of a
    cold cache wait for one token request instead of each sending their own."""

    app: msal.ConfidentialClientApplication
    lock: threading.Lock = field(default_factory=threading.Lock)


_credentials: dict[tuple[Any, ...], _Credential] = {}
_credentials_lock = threading.Lock()


def _app_key(settings: ClientSettings) -> tuple[Any, ...]:
    # The secret's digest (never the secret) is in the key so that a rotated secret gets a new app.
    secret_digest = hashlib.sha256(settings.client_secret.encode()).hexdigest()
    proxies = tuple(sorted(settings.proxies.items()))
    return (settings.authority_url.lower(), settings.client_id, secret_digest, settings.verify, proxies)


class EntraSession(PinnedSession):
    """The session MSAL sends Entra requests through: an outage or a garbled answer is raised as
    a transient typed error instead of being handed to MSAL."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        where = str(url).split("?", 1)[0]
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 429 or response.status_code >= 500:
            code = body.get("error") if isinstance(body, dict) else None
            raise BusinessCentralThrottledError(
                f"Entra ID is not answering properly: HTTP {response.status_code} from {where}",
                status=response.status_code,
                code=f"Entra {code or 'outage'}",
                url=where,
                retry_after=response.headers.get("Retry-After"),
            )
        if response.status_code < 300 and not isinstance(body, dict):
            raise BusinessCentralBadAnswerError(
                f"Entra ID answered HTTP {response.status_code} from {where} with a body that is not a JSON "
                f"object ({len(response.content)} bytes)",
                status=response.status_code,
                code="Entra",
                url=where,
            )
        return response


def _build_app(settings: ClientSettings) -> msal.ConfidentialClientApplication:
    import msal
    from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

    host = settings.authority.split("://", 1)[-1].split("/", 1)[0].lower()
    return msal.ConfidentialClientApplication(
        settings.client_id,
        client_credential=settings.client_secret,
        authority=settings.authority_url,
        # Microsoft's own hosts need no discovery; any other host (sovereign proxy, emulator) is
        # trusted because the connection names it explicitly.
        instance_discovery=None if host in WELL_KNOWN_AUTHORITY_HOSTS else False,
        http_client=EntraSession(settings),
    )


class TokenProvider:
    """Bearer tokens for one credential, from the process-wide MSAL application for it."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._credential: _Credential | None = None

    @property
    def credential(self) -> _Credential:
        """The process-wide MSAL application of this credential, created on first use.

        Creating it makes an HTTP request (tenant discovery), so it is deferred to the first token.
        """
        if self._credential is None:
            key = _app_key(self._settings)
            with _credentials_lock:
                credential = _credentials.get(key)
                if credential is None:
                    log.info(
                        "Creating MSAL client for client id %s at authority %s",
                        self._settings.client_id,
                        self._settings.authority_url,
                    )
                    credential = _credentials[key] = _Credential(_build_app(self._settings))
            self._credential = credential
        return self._credential

    def token(self) -> str:
        """A valid access token (MSAL's cache first; a new one from Entra when missing or near expiry)."""
        try:
            credential = self.credential
            with credential.lock:
                result = credential.app.acquire_token_for_client(scopes=[self._settings.scope])
        except BusinessCentralError:
            raise
        except requests.RequestException as exc:  # Entra unreachable, timed out, or not trusted
            raise no_answer(self._settings.authority_url, self._settings, None, exc) from None
        except Exception as exc:  # MSAL: the authority was refused (e.g. an unknown tenant)
            raise BusinessCentralAuthError(
                f"Entra ID authority {self._settings.authority_url} is not usable (check extra 'tenant_id' "
                f"and 'authority'): {type(exc).__name__}: {str(exc)[:300]}"
            ) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = str(result.get("error", "unknown_error")) if isinstance(result, dict) else "unknown_error"
            description = str(result.get("error_description", "")) if isinstance(result, dict) else ""
            error_class = BusinessCentralThrottledError if error in _ENTRA_TRANSIENT else BusinessCentralAuthError
            raise error_class(
                f"Entra ID refused a token for client id {self._settings.client_id} in tenant "
                f"{self._settings.tenant_id}: {error}: {description.splitlines()[0] if description else ''}",
                code=error,
            )
        if result.get("token_source") == "identity_provider":
            log.info("Fetched a new Business Central token for client id %s", self._settings.client_id)
        return str(token)

    def invalidate(self) -> None:
        """Drop cached tokens for this credential (after Business Central answered 401)."""
        credential = self.credential
        with credential.lock:
            credential.app.remove_tokens_for_client()
