"""The token source of a managed identity (auth type ``managed_identity``): the login picks the
system-assigned identity (empty) or a user-assigned one (by resource id ``/subscriptions/...`` or by
client id), asked through the managed identity endpoint's session, with a token cache of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_bc.client.auth.entra_sessions import ManagedIdentitySession
from airflow_provider_bc.client.settings import ClientSettings

if TYPE_CHECKING:
    import msal


class ManagedIdentitySource:
    """MSAL's managed identity client behind the shape of a confidential client application."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._client = self._new_client()

    def _new_client(self) -> msal.ManagedIdentityClient:
        import msal

        login = self._settings.client_id
        identity: msal.ManagedIdentity
        if not login:
            identity = msal.SystemAssignedManagedIdentity()
        elif login.startswith("/"):  # /subscriptions/.../userAssignedIdentities/{name}
            identity = msal.UserAssignedManagedIdentity(resource_id=login)
        else:
            identity = msal.UserAssignedManagedIdentity(client_id=login)
        return msal.ManagedIdentityClient(
            identity, http_client=ManagedIdentitySession(self._settings), token_cache=msal.TokenCache()
        )

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = self._client.acquire_token_for_client(resource=scopes[0].removesuffix("/.default"))
        return result

    def remove_tokens_for_client(self) -> None:
        self._client = self._new_client()  # a new, empty token cache
