"""The Microsoft Entra ID stand-in's directory: one tenant's client applications and their credentials
(secrets, certificates, federated credentials), the host's managed identities, Business Central
on-premises users; OpenID discovery and the client-credentials token endpoint. Assertions are checked
in :mod:`.assertions`, tokens issued and checked in :mod:`.tokens`."""

from __future__ import annotations

import base64
import hmac
import secrets
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .assertions import check_assertion, public_key, thumbprint
from .entra_errors import EntraError
from .on_premises import basic_user
from .settings import RuntimeConfig
from .tokens import BC_RESOURCE, Tokens


@dataclass(eq=False, repr=False)
class Directory:
    """One Entra tenant with its registered client applications; issues and checks access tokens.

    ``on_change`` is called with :meth:`snapshot` whenever applications or revocations change, so a
    restarted emulator can :meth:`restore` them and keep accepting the tokens it issued before.
    """

    tenant_id: str
    tenant_domain: str
    base_url: str
    config: RuntimeConfig
    on_change: Callable[[dict[str, Any]], None] | None = None
    apps: dict[str, str] = field(default_factory=dict, init=False)
    #: client id: PEM certificates registered
    certificates: dict[str, list[str]] = field(default_factory=dict, init=False)
    #: client id: federated credentials, each {"issuer", "subject", "issuer_key"} (the issuer's public key)
    federated: dict[str, list[dict[str, str]]] = field(default_factory=dict, init=False)
    #: managed identities assigned to the host: the system-assigned one's client id, user-assigned ones
    system_identity: str | None = field(default=None, init=False)
    #: user-assigned identities: (``client_id`` or ``resource_id``, its value) -> the identity's client id
    user_identities: dict[tuple[str, str], str] = field(default_factory=dict, init=False)
    #: Business Central on-premises users: user name -> web service access key (Basic auth)
    web_service_users: dict[str, str] = field(default_factory=dict, init=False)
    #: what the host's App Service-style endpoint expects in ``X-IDENTITY-HEADER`` (``IDENTITY_HEADER``)
    identity_header: str = field(default_factory=lambda: secrets.token_urlsafe(24), init=False)
    tokens: Tokens = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = Tokens(self.tenant_id, self.base_url)

    @property
    def issued(self) -> deque[str]:
        """The access tokens issued (the most recent 10,000), so tests can look for leaked tokens."""
        return self.tokens.issued

    def snapshot(self) -> dict[str, Any]:
        """Applications, signing key and revocations as JSON-ready data (holds secrets)."""
        return {
            **self.tokens.snapshot(),
            "apps": dict(self.apps),
            "certificates": {k: list(v) for k, v in self.certificates.items()},
            "federated": {k: [dict(c) for c in v] for k, v in self.federated.items()},
            "web_service_users": dict(self.web_service_users),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take over what :meth:`snapshot` returned (of this or an earlier emulator process)."""
        self.tokens.restore(data)
        self.apps = {str(k): str(v) for k, v in data["apps"].items()}
        self.certificates = {str(k): [str(c) for c in v] for k, v in data.get("certificates", {}).items()}
        self.federated = {str(k): [dict(c) for c in v] for k, v in data.get("federated", {}).items()}
        self.web_service_users = {str(k): str(v) for k, v in data.get("web_service_users", {}).items()}

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.snapshot())

    def register(
        self, client_id: str | None = None, client_secret: str | None = None, certificate: str | None = None
    ) -> tuple[str, str]:
        """Register (or re-key) a client application; missing values are generated. A PEM ``certificate``
        is added to the application's certificates (its SHA-256 thumbprint identifies it)."""
        client_id = client_id or str(uuid.uuid4())
        client_secret = client_secret or f"{secrets.token_urlsafe(6)}~{secrets.token_urlsafe(27)}"
        if certificate is not None:
            try:
                thumbprint(certificate)
            except ValueError:
                raise ValueError("certificate must be a PEM certificate (-----BEGIN CERTIFICATE-----)") from None
            self.certificates.setdefault(client_id, []).append(certificate)
        self.apps[client_id] = client_secret
        self._changed()
        return client_id, client_secret

    def add_federated_credential(self, client_id: str, issuer: str, subject: str, issuer_key: str) -> None:
        """Trust tokens of ``issuer`` (signed with the key of PEM ``issuer_key``) for ``subject`` as
        ``client_id``'s credential, as a federated identity credential of an app registration."""
        if client_id not in self.apps:
            raise LookupError(f"no client application with id {client_id}")
        try:
            public_key(issuer_key)
        except ValueError:
            raise ValueError("issuer_key must be a PEM public key or certificate") from None
        record = {"issuer": issuer, "subject": subject, "issuer_key": issuer_key}
        self.federated[client_id] = [c for c in self.federated.get(client_id, []) if c["subject"] != subject]
        self.federated[client_id].append(record)
        self._changed()

    def remove_federated_credential(self, client_id: str, subject: str) -> None:
        """Delete the federated credential of ``client_id`` for ``subject``: its tokens are refused."""
        records = self.federated.get(client_id, [])
        if not any(c["subject"] == subject for c in records):
            raise LookupError(f"no federated credential for subject {subject!r} on client {client_id}")
        self.federated[client_id] = [c for c in records if c["subject"] != subject]
        self._changed()

    def register_once(self, client_id: str) -> tuple[str, str]:
        """``(id, secret)`` of ``client_id``, registered with a new secret only if it is unknown."""
        if client_id in self.apps:
            return client_id, self.apps[client_id]
        return self.register(client_id)

    def revoke(self, client_id: str) -> None:
        """Refuse every token issued to ``client_id`` so far; tokens issued from now on are accepted."""
        if client_id not in self.apps:
            raise LookupError(f"no client application with id {client_id}")
        self.tokens.revoke(client_id)
        self._changed()

    def lift_revocations(self) -> None:
        """Accept again every unexpired token issued to any client (revoked ones included)."""
        if self.tokens.lift_revocations():
            self._changed()

    def knows(self, tenant: str) -> bool:
        """Whether ``tenant`` (GUID or domain, any case) names this tenant."""
        return tenant.lower() in (self.tenant_id, self.tenant_domain)

    def _check_tenant(self, tenant: str) -> None:
        if not self.knows(tenant):
            raise EntraError(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
                "signing into the correct cloud.",
            )

    def discovery(self, tenant: str) -> dict[str, Any]:
        """The OpenID configuration document MSAL reads for ``{authority}/{tenant}``."""
        self._check_tenant(tenant)
        root = f"{self.base_url}/{self.tenant_id}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "issuer": f"{root}/v2.0",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
        }

    def issue(self, tenant: str, body: bytes) -> dict[str, Any]:
        """Handle a form-encoded client-credentials token request; return the token response."""
        self._check_tenant(tenant)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        for name in ("grant_type", "client_id"):
            if not form.get(name):
                raise EntraError(
                    400, "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'."
                )
        if form["grant_type"] != "client_credentials":
            raise EntraError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{form['grant_type']}'.",
            )
        client_id = form["client_id"]
        if client_id not in self.apps:
            raise EntraError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant_domain}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You may have sent "
                "your authentication request to the wrong tenant.",
            )
        if form.get("client_assertion"):
            check_assertion(
                client_id,
                form,
                token_endpoint=f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token",
                certificates=self.certificates.get(client_id, []),
                federated=self.federated.get(client_id, []),
            )
        elif not form.get("client_secret"):
            raise EntraError(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            )
        elif not hmac.compare_digest(form["client_secret"].encode(), self.apps[client_id].encode()):
            raise EntraError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        scope = form.get("scope", "")
        if not scope.endswith("/.default") or " " in scope.strip():
            raise EntraError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        lifetime = self.config.token_lifetime
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self.tokens.issue(client_id, scope.strip().removesuffix("/.default"), lifetime),
        }

    def add_web_service_user(self, user: str | None = None, access_key: str | None = None) -> tuple[str, str]:
        """Create (or re-key) a Business Central on-premises user with a web service access key (BC
        makes 44 base64 characters); return ``(user, key)``."""
        user = user or f"USER{secrets.randbelow(10**6):06d}"
        access_key = access_key or base64.b64encode(secrets.token_bytes(33)).decode()
        self.web_service_users[user] = access_key
        self._changed()
        return user, access_key

    def assign_managed_identity(self, identity: str | None = None) -> str:
        """Assign a user-assigned identity to the host (``identity``: its client id, or its resource id
        ``/subscriptions/.../userAssignedIdentities/{name}``), or enable the host's system-assigned one
        (``None``); return the identity's client id."""
        if identity is None:
            self.system_identity = self.system_identity or str(uuid.uuid4())
            return self.system_identity
        if identity.startswith("/"):
            client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, identity.lower()))
            self.user_identities["resource_id", identity.lower()] = client_id
        else:
            client_id = self.user_identities["client_id", identity] = identity
        return client_id

    def managed_identity(self, client_id: str | None, resource_id: str | None) -> str | None:
        """The client id of the host's identity named by ``client_id`` or ``resource_id`` (neither: the
        system-assigned one), if it is assigned to the host."""
        if client_id:
            return self.user_identities.get(("client_id", client_id))
        if resource_id:
            return self.user_identities.get(("resource_id", resource_id.lower()))
        return self.system_identity

    def access_token(self, client_id: str, audience: str, lifetime: int) -> str:
        """A new access token of ``client_id`` for ``audience`` (as for a managed identity)."""
        return self.tokens.issue(client_id, audience, lifetime)

    def authenticate(self, authorization: str | None, url_tenant: str | None, *, on_premises: bool = False) -> str:
        """The client id (principal) of a valid BC bearer token, else a 401 :class:`ApiError`. On an
        on-premises route, the user name of valid Basic credentials (user, web service access key), or,
        when the instance trusts Entra ID (``on_premises_valid_audiences``), the client id of a bearer
        token for one of those audiences."""
        if on_premises:
            audiences = [a.strip() for a in self.config.on_premises_valid_audiences.split(";") if a.strip()]
            if not audiences or not (authorization or "").lower().startswith("bearer "):
                return basic_user(authorization, self.web_service_users)
            return self.tokens.principal(authorization, None, audiences, self.knows)
        return self.tokens.principal(authorization, url_tenant, [BC_RESOURCE], self.knows)
