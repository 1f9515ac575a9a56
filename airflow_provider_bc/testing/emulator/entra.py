"""The Microsoft Entra ID stand-in: OpenID discovery, client-credentials tokens, token validation and revocation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

import jwt

from .asgi import Reply, json_reply
from .errors import ApiError
from .settings import RuntimeConfig

BC_RESOURCE = "https://api.businesscentral.dynamics.com"
ISSUED_LIMIT = 10_000
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: the audience Entra requires in a federated (workload identity) token
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"


def _thumbprint(certificate_pem: str) -> str:
    """The certificate's SHA-256 thumbprint as a JWT's ``x5t#S256`` header carries it (base64url)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(certificate_pem.encode()).fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _presented_thumbprint(header: dict[str, Any]) -> str:
    """The ``x5t#S256`` header as :func:`_thumbprint` spells it (MSAL pads it; the RFC does not)."""
    value = str(header.get("x5t#S256", ""))
    return value.replace("+", "-").replace("/", "_").rstrip("=")


def _public_key(pem: str) -> Any:
    """The public key of a PEM certificate or a PEM public key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if "BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem.encode()).public_key()
    return serialization.load_pem_public_key(pem.encode())


class EntraError(Exception):
    """An error answer of the token endpoint, with its AADSTS code."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description


def entra_error_reply(error: EntraError, correlation_id: str) -> Reply:
    """The Entra-shaped JSON error (``error``, ``error_description`` with AADSTS code, ids, time)."""
    trace_id = str(uuid.uuid4())
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error.error,
        "error_description": f"AADSTS{error.code}: {error.description} Trace ID: {trace_id} "
        f"Correlation ID: {correlation_id} Timestamp: {stamp}",
        "error_codes": [error.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.code}",
    }
    return json_reply(error.status, body, {"Cache-Control": "no-store"})


class Directory:
    """One Entra tenant with its registered client applications; issues and checks access tokens.

    Each client's tokens are signed with a key derived from the tenant's signing key, the client id and
    the client's key *generation*; :meth:`revoke` starts a new generation and refuses tokens of older ones.
    ``on_change`` is called with :meth:`snapshot` whenever applications or revocations change, so a
    restarted emulator can :meth:`restore` them and keep accepting the tokens it issued before.
    """

    def __init__(
        self,
        tenant_id: str,
        tenant_domain: str,
        base_url: str,
        config: RuntimeConfig,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.tenant_domain = tenant_domain
        self.base_url = base_url
        self.config = config
        self.on_change = on_change
        self.apps: dict[str, str] = {}
        self.certificates: dict[str, list[str]] = {}  # client id: PEM certificates registered
        #: client id: federated credentials, each {"issuer", "subject", "issuer_key"} (the issuer's public key)
        self.federated: dict[str, list[dict[str, str]]] = {}
        #: managed identities assigned to the host: the system-assigned one's client id, user-assigned ones
        self.system_identity: str | None = None
        #: user-assigned identities: (``client_id`` or ``resource_id``, its value) -> the identity's client id
        self.user_identities: dict[tuple[str, str], str] = {}
        #: Business Central on-premises users: user name -> web service access key (Basic auth)
        self.web_service_users: dict[str, str] = {}
        #: what the host's App Service-style endpoint expects in ``X-IDENTITY-HEADER`` (``IDENTITY_HEADER``)
        self.identity_header = secrets.token_urlsafe(24)
        self.issued: deque[str] = deque(maxlen=ISSUED_LIMIT)  # so tests can look for leaked tokens
        self.generations: dict[str, int] = {}  # client id: generation of the key signing its new tokens
        self.valid_from: dict[str, int] = {}  # client id: oldest generation not revoked (absent: 0)
        self._key = secrets.token_bytes(32)

    def snapshot(self) -> dict[str, Any]:
        """Applications, signing key and revocations as JSON-ready data (holds secrets)."""
        return {
            "signing_key": self._key.hex(),
            "apps": dict(self.apps),
            "generations": dict(self.generations),
            "valid_from": dict(self.valid_from),
            "certificates": {k: list(v) for k, v in self.certificates.items()},
            "federated": {k: [dict(c) for c in v] for k, v in self.federated.items()},
            "web_service_users": dict(self.web_service_users),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take over what :meth:`snapshot` returned (of this or an earlier emulator process)."""
        self._key = bytes.fromhex(data["signing_key"])
        self.apps = {str(k): str(v) for k, v in data["apps"].items()}
        self.generations = {str(k): int(v) for k, v in data.get("generations", {}).items()}
        self.valid_from = {str(k): int(v) for k, v in data.get("valid_from", {}).items()}
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
                _thumbprint(certificate)
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
            _public_key(issuer_key)
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
        generation = self.generations.get(client_id, 0) + 1
        self.generations[client_id] = self.valid_from[client_id] = generation
        self._changed()

    def lift_revocations(self) -> None:
        """Accept again every unexpired token issued to any client (revoked ones included)."""
        if self.valid_from:
            self.valid_from.clear()
            self._changed()

    def _signing_key(self, client_id: str, generation: int) -> bytes:
        return hmac.new(self._key, f"{client_id}\n{generation}".encode(), hashlib.sha256).digest()

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
            self._check_assertion(client_id, form)
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
            "access_token": self._token(client_id, scope.strip().removesuffix("/.default"), lifetime),
        }

    def _check_assertion(self, client_id: str, form: dict[str, str]) -> None:
        """Accept the client assertion of ``client_id``: a JWT signed with a registered certificate
        (``x5t#S256`` header; ``aud`` the token endpoint, ``iss`` = ``sub`` = the client id), or a
        federated token matching a federated credential (issuer, subject, ``api://AzureADTokenExchange``)."""
        if form.get("client_assertion_type") != JWT_BEARER:
            raise EntraError(
                400, "invalid_request", 50027, f"client_assertion_type must be '{JWT_BEARER}' with a client_assertion."
            )
        assertion = form["client_assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise EntraError(401, "invalid_client", 50027, "JWT token is invalid or malformed.") from None
        if "x5t#S256" in header:
            self._check_certificate_assertion(client_id, assertion, header)
        else:
            self._check_federated_assertion(client_id, assertion, claims)

    def _verify(self, assertion: str, key: Any, audience: str, algorithms: list[str]) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion, key, algorithms=algorithms, audience=audience, options={"require": ["exp", "aud", "iss"]}
            )
        except jwt.ExpiredSignatureError:
            raise EntraError(
                401,
                "invalid_client",
                700024,
                f"Client assertion is not within its valid time range. Current time: "
                f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%S.%fZ}.",
            ) from None
        except jwt.InvalidAudienceError:
            raise EntraError(
                401, "invalid_client", 700212, f"The client assertion's audience claim must be '{audience}'."
            ) from None
        except jwt.InvalidSignatureError:
            raise EntraError(
                401, "invalid_client", 7000274, "Client assertion contains an invalid signature."
            ) from None
        except jwt.InvalidTokenError as exc:
            raise EntraError(401, "invalid_client", 50027, f"JWT token is invalid or malformed: {exc}.") from None
        return claims

    def _check_certificate_assertion(self, client_id: str, assertion: str, header: dict[str, Any]) -> None:
        presented = _presented_thumbprint(header)
        registered = {_thumbprint(pem): pem for pem in self.certificates.get(client_id, [])}
        if presented not in registered:
            raise EntraError(
                401,
                "invalid_client",
                700027,
                "The certificate with identifier used to sign the client assertion is not registered on "
                f"application. [Reason - The key was not found., Thumbprint of key used by client: '{presented}', "
                f"Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys "
                f"for app Id '{client_id}'.]",
            )
        audience = f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"
        claims = self._verify(assertion, _public_key(registered[presented]), audience, ["PS256", "RS256"])
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise EntraError(
                401,
                "invalid_client",
                700023,
                f"Client assertion issuer and subject must be the client id '{client_id}'.",
            )

    def _check_federated_assertion(self, client_id: str, assertion: str, claims: dict[str, Any]) -> None:
        issuer, subject, audience = claims.get("iss"), claims.get("sub"), claims.get("aud")
        for record in self.federated.get(client_id, []):
            if record["issuer"] == issuer and record["subject"] == subject:
                self._verify(assertion, _public_key(record["issuer_key"]), FEDERATED_AUDIENCE, ["RS256", "ES256"])
                return
        raise EntraError(
            400,
            "invalid_request",
            70021,
            "No matching federated identity record found for presented assertion. "
            f"Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{audience}'.",
        )

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
        return self._token(client_id, audience, lifetime)

    def _token(self, client_id: str, audience: str, lifetime: int) -> str:
        now = time.time()
        object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.tenant_id}/{client_id}"))
        claims = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": int(now),
            "nbf": int(now),
            "exp": math.ceil(now + lifetime),  # whole seconds, never shorter than the lifetime
            "appid": client_id,
            "appidacr": "1",
            "idtyp": "app",
            "oid": object_id,
            "sub": object_id,
            "roles": ["API.ReadWrite.All"],
            "tid": self.tenant_id,
            "ver": "1.0",
            "jti": str(uuid.uuid4()),
        }
        key = self._signing_key(client_id, self.generations.get(client_id, 0))
        token = jwt.encode(claims, key, algorithm="HS256")
        self.issued.append(token)
        return token

    def authenticate(self, authorization: str | None, url_tenant: str | None, *, on_premises: bool = False) -> str:
        """The client id (principal) of a valid BC bearer token, else a 401 :class:`ApiError`. On an
        on-premises route, the user name of valid Basic credentials (user, web service access key), or,
        when the instance trusts Entra ID (``on_premises_valid_audiences``), the client id of a bearer
        token for one of those audiences."""
        if on_premises:
            audiences = [a.strip() for a in self.config.on_premises_valid_audiences.split(";") if a.strip()]
            if not audiences or not (authorization or "").lower().startswith("bearer "):
                return self._authenticate_basic(authorization)
            return self._authenticate_bearer(authorization, None, audiences)
        return self._authenticate_bearer(authorization, url_tenant, [BC_RESOURCE])

    def _authenticate_bearer(self, authorization: str | None, url_tenant: str | None, audiences: list[str]) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._unauthorized(None)
        token = token.strip()
        try:
            client_id = jwt.decode(token, options={"verify_signature": False}).get("appid")
        except jwt.InvalidTokenError:
            raise self._unauthorized("The token is invalid") from None
        if not isinstance(client_id, str) or (generation := self._generation_of(token, client_id)) is None:
            raise self._unauthorized("The token is invalid")
        try:
            claims = jwt.decode(
                token,
                self._signing_key(client_id, generation),
                algorithms=["HS256"],
                audience=audiences,
                options={"require": ["exp", "iat", "aud", "tid", "appid"]},
            )
        except jwt.ExpiredSignatureError:
            raise self._unauthorized("The token is expired") from None
        except jwt.InvalidAudienceError:
            raise self._unauthorized("The audience is invalid") from None
        except jwt.InvalidTokenError:
            raise self._unauthorized("The token is invalid") from None
        if generation < self.valid_from.get(client_id, 0):
            raise self._unauthorized("The token is revoked")
        if claims["tid"] != self.tenant_id or (url_tenant is not None and not self.knows(url_tenant)):
            raise self._unauthorized("The token was issued for another tenant")
        principal: str = claims["appid"]
        return principal

    def _authenticate_basic(self, authorization: str | None) -> str:
        scheme, _, encoded = (authorization or "").partition(" ")
        try:
            user, _, key = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except ValueError:  # binascii.Error and UnicodeDecodeError included
            user = key = ""
        known = self.web_service_users.get(user)
        if scheme.lower() != "basic" or known is None or not hmac.compare_digest(key.encode(), known.encode()):
            # Business Central on-premises (NavUserPassword): a Basic challenge, no OData error details
            raise ApiError(
                401,
                "Unauthorized",
                "The server has rejected the client credentials.",
                {"WWW-Authenticate": 'Basic realm=""'},
            )
        return user

    def _generation_of(self, token: str, client_id: str) -> int | None:
        """The key generation of ``client_id`` whose key signed ``token``, if any."""
        for generation in range(self.generations.get(client_id, 0), -1, -1):
            try:
                jwt.PyJWS().decode(token, self._signing_key(client_id, generation), algorithms=["HS256"])
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidTokenError:
                return None
            return generation
        return None

    def _unauthorized(self, problem: str | None) -> ApiError:
        challenge = f'Bearer authorization_uri="{self.base_url}/{self.tenant_id}/oauth2/authorize", ' + (
            f'resource_id="{BC_RESOURCE}"'
        )
        if problem:
            challenge += f', error="invalid_token", error_description="{problem}"'
        return ApiError(
            401,
            "Authentication_InvalidCredentials",
            "The credentials provided are incorrect",
            {"WWW-Authenticate": challenge},
        )
