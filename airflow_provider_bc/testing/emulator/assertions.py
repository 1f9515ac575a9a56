"""Client assertions presented to the Entra ID stand-in: a JWT signed with a certificate registered on
the application, or a federated token (workload identity) matching a federated credential."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import jwt

from .entra_errors import EntraError

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: the audience Entra requires in a federated (workload identity) token
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"


def thumbprint(certificate_pem: str) -> str:
    """The certificate's SHA-256 thumbprint as a JWT's ``x5t#S256`` header carries it (base64url)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(certificate_pem.encode()).fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _presented_thumbprint(header: dict[str, Any]) -> str:
    """The ``x5t#S256`` header as :func:`thumbprint` spells it (MSAL pads it; the RFC does not)."""
    value = str(header.get("x5t#S256", ""))
    return value.replace("+", "-").replace("/", "_").rstrip("=")


def public_key(pem: str) -> Any:
    """The public key of a PEM certificate or a PEM public key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if "BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem.encode()).public_key()
    return serialization.load_pem_public_key(pem.encode())


def check_assertion(
    client_id: str,
    form: Mapping[str, str],
    *,
    token_endpoint: str,
    certificates: Sequence[str],
    federated: Sequence[Mapping[str, str]],
) -> None:
    """Accept the client assertion of ``client_id`` in the token request ``form``: a JWT signed with one of
    its ``certificates`` (``x5t#S256`` header; ``aud`` the ``token_endpoint``, ``iss`` = ``sub`` = the
    client id), or a federated token matching one of its ``federated`` credentials (issuer, subject,
    ``api://AzureADTokenExchange``); else an :class:`EntraError` as Entra answers."""
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
        _check_certificate_assertion(client_id, assertion, header, certificates, token_endpoint)
    else:
        _check_federated_assertion(client_id, assertion, claims, federated)


def _verify(assertion: str, key: Any, audience: str, algorithms: list[str]) -> dict[str, Any]:
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
        raise EntraError(401, "invalid_client", 7000274, "Client assertion contains an invalid signature.") from None
    except jwt.InvalidTokenError as exc:
        raise EntraError(401, "invalid_client", 50027, f"JWT token is invalid or malformed: {exc}.") from None
    return claims


def _check_certificate_assertion(
    client_id: str, assertion: str, header: dict[str, Any], certificates: Sequence[str], audience: str
) -> None:
    presented = _presented_thumbprint(header)
    registered = {thumbprint(pem): pem for pem in certificates}
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
    claims = _verify(assertion, public_key(registered[presented]), audience, ["PS256", "RS256"])
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise EntraError(
            401,
            "invalid_client",
            700023,
            f"Client assertion issuer and subject must be the client id '{client_id}'.",
        )


def _check_federated_assertion(
    client_id: str, assertion: str, claims: dict[str, Any], federated: Sequence[Mapping[str, str]]
) -> None:
    issuer, subject, audience = claims.get("iss"), claims.get("sub"), claims.get("aud")
    for record in federated:
        if record["issuer"] == issuer and record["subject"] == subject:
            _verify(assertion, public_key(record["issuer_key"]), FEDERATED_AUDIENCE, ["RS256", "ES256"])
            return
    raise EntraError(
        400,
        "invalid_request",
        70021,
        "No matching federated identity record found for presented assertion. "
        f"Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{audience}'.",
    )
