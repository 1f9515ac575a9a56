"""The HTTP sessions MSAL sends its token requests through (Entra ID's, a managed identity endpoint's)
and their checks of each answer: an outage, a redirect or an answer MSAL cannot read is raised as a
typed error (transient for 429/5xx, so the caller's retry loop asks again) instead of reaching MSAL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from airflow_provider_bc.client.errors import (
    BusinessCentralAuthError,
    BusinessCentralBadAnswerError,
    BusinessCentralThrottledError,
)
from airflow_provider_bc.client.http.transport import PinnedSession
from airflow_provider_bc.client.settings import DEFAULT_AUTHORITY, ClientSettings


class EntraSession(PinnedSession):
    """The session MSAL sends Entra requests through: an outage, a garbled answer or a redirect is
    raised as a typed error instead of being handed to MSAL (which would fail to read it as JSON)."""

    #: who answers, in error messages, and the error code of a garbled answer
    who = "Entra ID"
    code = "Entra"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings)
        self._settings = settings

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        where, status = str(url).split("?", 1)[0], response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if status == 429 or status >= 500:
            code = body.get("error") if isinstance(body, dict) else None
            raise BusinessCentralThrottledError(
                f"{self.who} is not answering properly: HTTP {status} from {where}",
                status=status,
                code=f"{self.code} {code or 'outage'}",
                url=where,
                retry_after=response.headers.get("Retry-After"),
            )
        if 300 <= status < 400:  # never followed (PinnedSession): a token request would carry the secret there
            to = _host_of(where, response.headers.get("Location"))
            raise BusinessCentralAuthError(
                f"{self.who} answered the request to {where} with a redirect (HTTP {status}) "
                f"{f'to host {to}' if to else 'naming no host'}, which is not followed: "
                f"check {self._setup()} and, if a proxy is in between, extra 'proxies'",
                status=status,
                url=where,
            )
        problem = self._problem(body, len(response.content)) if status < 300 else None
        if problem:
            raise BusinessCentralBadAnswerError(
                f"{self.who} answered HTTP {status} from {where} {problem}", status=status, code=self.code, url=where
            )
        return response

    def _setup(self) -> str:
        """The setting that decides where the requests of this session go."""
        return f"extra 'authority' ({self._settings.authority}; empty for {DEFAULT_AUTHORITY})"

    def _problem(self, body: Any, size: int) -> str | None:
        """What makes a 2xx answer with ``body`` (JSON, ``None`` if none) unreadable (``None``: nothing)."""
        return None if isinstance(body, dict) else f"with a body that is not a JSON object ({size} bytes)"


class ManagedIdentitySession(EntraSession):
    """The session of a managed identity endpoint: a token answer MSAL cannot read is a bad answer too."""

    who = "The managed identity endpoint"
    code = "managed identity"

    def _setup(self) -> str:
        return (
            "the managed identity endpoint this host sets (IDENTITY_ENDPOINT, MSI_ENDPOINT, or IMDS at 169.254.169.254)"
        )

    def _problem(self, body: Any, size: int) -> str | None:
        if not isinstance(body, dict):
            return super()._problem(body, size)
        problem = _token_problem(body)
        return f"with an answer MSAL cannot read: {problem}" if problem else None


def _host_of(where: str, location: str | None) -> str:
    """The host (and port) a redirect's ``Location`` points to, nothing more: its path, query or
    fragment may carry a code or a token."""
    if not location:
        return ""
    try:
        netloc = urlsplit(urljoin(where, location)).netloc
    except ValueError:  # an unbalanced IPv6 bracket
        return "(unreadable)"
    return netloc.rpartition("@")[2][:100]  # no user:password


def _token_problem(body: dict[str, Any]) -> str | None:
    """What in a managed identity endpoint's token answer MSAL cannot read (``None``: nothing); an
    error answer is MSAL's to report. Never the token itself."""
    if "error" in body:
        return None
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        return "no 'access_token'"
    expiries = [name for name in ("expires_on", "expires_in") if name in body]
    if not expiries:
        return "neither 'expires_on' nor 'expires_in'"
    for name in expiries:
        try:
            int(body[name])  # as MSAL reads it
        except (TypeError, ValueError, OverflowError):
            text = repr(body[name])
            shown = text if len(text) <= 32 else f"a {type(body[name]).__name__} of {len(str(body[name]))} characters"
            return f"{name!r} is not a whole number of seconds ({shown})"
    return None
