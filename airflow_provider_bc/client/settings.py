"""Everything the client needs to reach one Business Central environment, validated once."""

from __future__ import annotations

import math
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import urlsplit

from airflow_provider_bc.client.errors import BusinessCentralConfigError
from airflow_provider_bc.client.values import CompanyId, is_guid

DEFAULT_API_HOST = "https://api.businesscentral.dynamics.com"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_SCOPE = "https://api.businesscentral.dynamics.com/.default"
DEFAULT_ENVIRONMENT = "production"
DEFAULT_API_ROUTE = "api/v2.0"

#: how the client proves who it is: Entra client secret, certificate, federated token file, managed
#: identity (all bearer tokens), or Basic (user + web service access key, Business Central on-premises)
AUTH_TYPES = ("client_secret", "certificate", "workload_identity", "managed_identity", "basic")
#: the environment variable Azure workload identity sets to the federated token file
FEDERATED_TOKEN_FILE_ENV = "AZURE_FEDERATED_TOKEN_FILE"  # noqa: S105 (a variable name)

#: Microsoft Entra ID hosts of Microsoft's global cloud (MSAL knows these and the national clouds' hosts)
_GLOBAL_AUTHORITY_HOSTS = frozenset(
    {"login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net"}
)

_ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$")
_API_ROUTE = re.compile(r"^api(/[A-Za-z0-9][A-Za-z0-9._-]*){1,3}$")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")


class _Range(NamedTuple):
    """What a numeric setting takes: an ``int`` (``whole``) or a finite ``int``/``float``, from ``lowest``."""

    whole: bool
    lowest: int
    inclusive: bool = True
    unit: str = ""


_SECONDS = _Range(whole=False, lowest=0, inclusive=False, unit=" of seconds")
#: the numeric settings of :class:`ClientSettings` and what each takes
NUMBER_RANGES: dict[str, _Range] = {
    "connect_timeout": _SECONDS,
    "read_timeout": _SECONDS,
    "backoff_factor": _SECONDS._replace(inclusive=True),
    "backoff_max": _SECONDS,
    "request_window": _SECONDS,
    "max_retries": _Range(whole=True, lowest=0),
    "retry_after_max": _Range(whole=True, lowest=0, unit=" of seconds"),
    "max_in_flight": _Range(whole=True, lowest=1),
    "max_requests": _Range(whole=True, lowest=1),
}


def number_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be the numeric setting ``name`` (``None``: it can): not a number (text and
    ``bool`` included), NaN or an infinity, a fraction where a whole number is meant, or too low."""
    rule = NUMBER_RANGES[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        fits = isinstance(value, int) or (not rule.whole and math.isfinite(value))
        if fits and (value >= rule.lowest if rule.inclusive else value > rule.lowest):
            return None
    kind = "a whole number" if rule.whole else "a finite number"
    return f"must be {kind}{rule.unit} {'>=' if rule.inclusive else '>'} {rule.lowest}, got {value!r}"


@dataclass(frozen=True)
class ClientSettings:
    """Endpoint, credentials and transport options for one Business Central environment.

    Built from an Airflow connection by the hook, or directly in plain Python. Every field is
    checked on construction; a bad one raises :class:`BusinessCentralConfigError` naming it.
    """

    client_id: str
    #: the client secret (``client_secret``) or the web service access key (``basic``)
    client_secret: str = field(default="", repr=False)
    tenant_id: str = ""
    environment: str = DEFAULT_ENVIRONMENT
    company_id: str | None = None
    api_host: str = DEFAULT_API_HOST
    api_route: str = DEFAULT_API_ROUTE
    authority: str = DEFAULT_AUTHORITY
    scope: str = DEFAULT_SCOPE
    auth_type: str = "client_secret"
    #: ``certificate``: PEM certificate and private key, each a file or inline text (a key file may hold both)
    certificate_path: str | None = None
    private_key_path: str | None = None
    certificate: str | None = None
    private_key: str | None = field(default=None, repr=False)
    private_key_passphrase: str | None = field(default=None, repr=False)
    #: ``workload_identity``: the federated token file (default: ``$AZURE_FEDERATED_TOKEN_FILE``; an empty
    #: client id or tenant id defaults to ``$AZURE_CLIENT_ID`` or ``$AZURE_TENANT_ID``, as the pod has them)
    federated_token_file: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_retries: int = 6
    backoff_factor: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: int = 300
    verify: bool | str = True
    proxies: Mapping[str, str] = field(default_factory=dict, repr=False)  # may carry user:password
    read_only_intent: bool = False
    #: the principal's API requests in flight at once in this process (Business Central runs 5 per user) ...
    max_in_flight: int = 5
    #: ... and started per ``request_window`` seconds, sliding (Business Central: 6,000 per 5 minutes)
    max_requests: int = 6000
    request_window: float = 300.0
    #: where these settings came from, for error messages ("connection 'business_central_default'")
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_host", self.api_host.rstrip("/"))
        object.__setattr__(self, "authority", self.authority.rstrip("/"))
        object.__setattr__(self, "api_route", self.api_route.strip("/"))
        object.__setattr__(self, "proxies", MappingProxyType(dict(self.proxies)))
        if self.auth_type == "workload_identity":  # what Azure workload identity sets in the pod, when not given
            for name, variable in (
                ("federated_token_file", FEDERATED_TOKEN_FILE_ENV),
                ("client_id", "AZURE_CLIENT_ID"),
                ("tenant_id", "AZURE_TENANT_ID"),
            ):
                if not getattr(self, name):
                    object.__setattr__(self, name, os.environ.get(variable) or getattr(self, name))
        self._validate()

    def _fail(self, name: str, problem: str) -> BusinessCentralConfigError:
        return BusinessCentralConfigError(name, problem, source=self.source)

    def _validate_credential(self) -> None:
        if self.auth_type == "ntlm":
            raise self._fail(
                "auth_type",
                "ntlm (Windows credentials) is not supported: give the Business Central user a web service "
                "access key and use basic (the server instance's credential type NavUserPassword), or Entra ID",
            )
        if self.auth_type not in AUTH_TYPES:
            raise self._fail("auth_type", f"{self.auth_type!r} is unknown: use one of {', '.join(AUTH_TYPES)}")
        if self.auth_type != "managed_identity" and not self.client_id.strip():
            what = "user name" if self.auth_type == "basic" else "Entra application (client) ID"
            raise self._fail("client_id", f"missing: set the connection's login to the {what}")
        if (
            self.auth_type == "managed_identity"
            and self.client_id
            and not (is_guid(self.client_id) or self.client_id.lower().startswith("/subscriptions/"))
        ):
            raise self._fail(
                "client_id",
                f"{self.client_id!r} names no managed identity: set the login to a user-assigned identity's client "
                "ID (a GUID) or resource ID (/subscriptions/...), or leave it empty for the system-assigned one",
            )
        if self.auth_type == "client_secret" and not self.client_secret:
            raise self._fail("client_secret", "missing: set the connection's Client Secret (password)")
        if self.auth_type == "basic" and not self.client_secret:
            raise self._fail("client_secret", "missing: set the connection's password to the web service access key")
        if self.auth_type == "basic" and self.api_host == DEFAULT_API_HOST:
            raise self._fail(
                "api_host",
                "basic is for Business Central on-premises: set the connection's host to the server's "
                "https://{server}:{port}/{instance} (e.g. https://bc.contoso.local:7048/BC)",
            )
        if self.auth_type == "certificate":
            from airflow_provider_bc.client.credentials import load_certificate

            load_certificate(self)
        if self.auth_type == "workload_identity":
            from airflow_provider_bc.client.credentials import read_federated_token

            read_federated_token(self)

    def _validate_cloud(self) -> None:
        """A national cloud's Entra ID cannot sign tokens for Business Central online, which Microsoft
        runs in its global cloud only: such an authority needs the host of an on-premises server."""
        from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

        host = (urlsplit(self.authority).hostname or "").lower()
        if self.api_host == DEFAULT_API_HOST and host in WELL_KNOWN_AUTHORITY_HOSTS - _GLOBAL_AUTHORITY_HOSTS:
            raise self._fail(
                "authority",
                f"{self.authority!r} is a national cloud's Microsoft Entra ID, but Business Central online runs in "
                "Microsoft's global cloud only: leave 'authority' empty for Business Central online, or set the "
                "connection's host to the on-premises server that trusts this tenant (https://{server}:{port}/{instance})",
            )

    def _validate(self) -> None:
        self._validate_credential()
        if self.auth_type != "basic" and not self.tenant_id:
            raise self._fail(
                "tenant_id",
                f"missing: auth_type {self.auth_type} gets its token from Microsoft Entra ID, so set extra "
                "'tenant_id' (the form's Tenant ID) to the Entra tenant GUID or domain (contoso.onmicrosoft.com)",
            )
        if self.tenant_id and not _TENANT.match(self.tenant_id):
            raise self._fail("tenant_id", f"{self.tenant_id!r} is neither a GUID nor a domain name")
        if not _ENVIRONMENT.match(self.environment):
            raise self._fail(
                "environment",
                f"{self.environment!r} is not a Business Central environment name "
                "(letters, digits, '-' and '_', at most 30)",
            )
        if self.company_id is not None and not is_guid(self.company_id):
            raise self._fail("company_id", f"{self.company_id!r} is not a GUID (use the company id, not its name)")
        if self.company_id is not None:
            object.__setattr__(self, "company_id", CompanyId(uuid.UUID(self.company_id)))
        if not _API_ROUTE.match(self.api_route):
            raise self._fail(
                "api_route",
                f"{self.api_route!r} is neither 'api/v2.0' nor 'api/{{publisher}}/{{group}}/{{version}}'",
            )
        for name in ("api_host", "authority"):
            value = getattr(self, name)
            parts = urlsplit(value)
            if parts.scheme != "https" or not parts.hostname:
                raise self._fail(name, f"{value!r} must be an https:// URL")
            if parts.query or parts.fragment:
                raise self._fail(name, f"{value!r} must not carry a query or fragment")
        if self.auth_type != "basic":
            self._validate_cloud()
        if not self.scope.endswith("/.default"):
            raise self._fail("scope", f"{self.scope!r} must end with '/.default' for the client-credentials flow")
        for name in NUMBER_RANGES:
            if problem := number_problem(name, getattr(self, name)):
                raise self._fail(name, problem)
        if isinstance(self.verify, str) and not os.path.isfile(self.verify):
            raise self._fail("verify", f"CA bundle {self.verify!r} does not exist (or pass true/false)")

    @property
    def on_premises(self) -> bool:
        """Whether the API is a Business Central on-premises server instance: Basic auth, or a host that
        carries the instance path (``https://bc.contoso.local:7048/BC``); its API root is then
        ``{host}/{api_route}``, with no tenant or environment segment."""
        return self.auth_type == "basic" or bool(urlsplit(self.api_host).path.strip("/"))

    @property
    def authority_url(self) -> str:
        """The Entra authority for this tenant, as MSAL takes it."""
        return f"{self.authority}/{self.tenant_id}"
