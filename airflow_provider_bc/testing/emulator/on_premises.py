"""Business Central on-premises users signing in with a web service access key (Basic auth)."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping

from .errors import ApiError


def basic_user(authorization: str | None, users: Mapping[str, str]) -> str:
    """The user name of valid Basic credentials (user, web service access key) among ``users``, else the
    401 Business Central on-premises answers."""
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        user, _, key = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError included
        user = key = ""
    known = users.get(user)
    if scheme.lower() != "basic" or known is None or not hmac.compare_digest(key.encode(), known.encode()):
        # Business Central on-premises (NavUserPassword): a Basic challenge, no OData error details
        raise ApiError(
            401,
            "Unauthorized",
            "The server has rejected the client credentials.",
            {"WWW-Authenticate": 'Basic realm=""'},
        )
    return user
