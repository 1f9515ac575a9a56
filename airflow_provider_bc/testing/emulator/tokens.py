"""Access tokens of the Entra ID stand-in: issued per client application, each signed with a key derived
from the tenant's signing key, the client id and the client's key *generation*; a revocation starts a
new generation and refuses the tokens of older ones. Business Central's side checks them here too."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import jwt

from .errors import ApiError

BC_RESOURCE = "https://api.businesscentral.dynamics.com"
ISSUED_LIMIT = 10_000


class Tokens:
    """The access tokens of tenant ``tenant_id`` whose authority is ``base_url``."""

    def __init__(self, tenant_id: str, base_url: str) -> None:
        self.tenant_id = tenant_id
        self.base_url = base_url
        self.issued: deque[str] = deque(maxlen=ISSUED_LIMIT)  # so tests can look for leaked tokens
        self.generations: dict[str, int] = {}  # client id: generation of the key signing its new tokens
        self.valid_from: dict[str, int] = {}  # client id: oldest generation not revoked (absent: 0)
        self._key = secrets.token_bytes(32)

    def snapshot(self) -> dict[str, Any]:
        """The signing key and the revocations as JSON-ready data (holds a secret)."""
        return {
            "signing_key": self._key.hex(),
            "generations": dict(self.generations),
            "valid_from": dict(self.valid_from),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take over what :meth:`snapshot` returned: the tokens issued before are accepted again."""
        self._key = bytes.fromhex(data["signing_key"])
        self.generations = {str(k): int(v) for k, v in data.get("generations", {}).items()}
        self.valid_from = {str(k): int(v) for k, v in data.get("valid_from", {}).items()}

    def revoke(self, client_id: str) -> None:
        """Refuse every token issued to ``client_id`` so far; tokens issued from now on are accepted."""
        generation = self.generations.get(client_id, 0) + 1
        self.generations[client_id] = self.valid_from[client_id] = generation

    def lift_revocations(self) -> bool:
        """Accept again every unexpired token issued to any client; whether anything was revoked."""
        revoked = bool(self.valid_from)
        self.valid_from.clear()
        return revoked

    def _signing_key(self, client_id: str, generation: int) -> bytes:
        return hmac.new(self._key, f"{client_id}\n{generation}".encode(), hashlib.sha256).digest()

    def issue(self, client_id: str, audience: str, lifetime: int) -> str:
        """A new access token of ``client_id`` for ``audience``, valid ``lifetime`` seconds."""
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
        token = jwt.encode(claims, self._signing_key(client_id, self.generations.get(client_id, 0)), algorithm="HS256")
        self.issued.append(token)
        return token

    def principal(
        self, authorization: str | None, url_tenant: str | None, audiences: list[str], knows: Callable[[str], bool]
    ) -> str:
        """The client id of a valid bearer token for one of ``audiences`` in ``authorization``, of this
        tenant (and of ``url_tenant``, which ``knows`` tells); else a 401 :class:`ApiError`."""
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
        if claims["tid"] != self.tenant_id or (url_tenant is not None and not knows(url_tenant)):
            raise self._unauthorized("The token was issued for another tenant")
        principal: str = claims["appid"]
        return principal

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
