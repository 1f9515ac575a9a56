"""The handle's calls about who signs in: client applications and their credentials, federated
credentials, managed identities, on-premises users, tokens issued and revoked."""

from __future__ import annotations

from .handle_control import ControlClient
from .handle_launch import EmulatorError

BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"


class IdentityCalls(ControlClient):
    """Principals of the emulator's Entra tenant and Business Central on-premises instance, and their tokens."""

    def token(self, client_id: str | None = None, secret: str | None = None, scope: str = BC_SCOPE) -> str:
        """An access token from the token endpoint via plain ``requests`` (not MSAL)."""
        response = self._session.post(
            f"{self.authority}/{self.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id or self.client_id,
                "client_secret": secret or self.client_secret,
                "scope": scope,
            },
            verify=self.ca_bundle,  # per request: Session.verify loses against REQUESTS_CA_BUNDLE
            timeout=30,
        )
        if not response.ok:
            raise EmulatorError(f"token request failed: {response.status_code} {response.text}")
        return str(response.json()["access_token"])

    def issued_tokens(self) -> list[str]:
        """Every access token issued since the process started (most recent 10,000), e.g. to search logs
        for leaks."""
        return list(self._control("GET", "tokens")["tokens"])

    def revoke_tokens(self, client_id: str | None = None) -> str:
        """Refuse every access token issued so far to ``client_id`` (default: the start-up client) with
        401 ``Authentication_InvalidCredentials`` (``error_description="The token is revoked"``), as
        when a token is revoked while MSAL still caches it; tokens issued afterwards work. Lasts until
        :meth:`reset` (which the ``bc_emulator`` fixture calls before each test), across
        :meth:`restart`. Returns the client id."""
        return str(self._call("revoke", client_id=client_id)["client_id"])

    def register_client(
        self, client_id: str | None = None, client_secret: str | None = None, *, certificate: str | None = None
    ) -> tuple[str, str]:
        """Register another client application (random id/secret unless given): ``(id, secret)``. A PEM
        ``certificate`` is added to its certificates: assertions signed with its key are accepted."""
        result = self._call("clients", client_id=client_id, client_secret=client_secret, certificate=certificate)
        return str(result["client_id"]), str(result["client_secret"])

    def add_federated_credential(self, client_id: str, issuer: str, subject: str, issuer_key: str) -> None:
        """Let ``client_id`` sign in with federated tokens of ``issuer`` for ``subject`` (workload
        identity), verified with ``issuer_key`` (PEM public key; see ``testing.credentials.FederatedIssuer``)."""
        self._call("clients/federated", client_id=client_id, issuer=issuer, subject=subject, issuer_key=issuer_key)

    def remove_federated_credential(self, client_id: str, subject: str) -> None:
        """Delete ``client_id``'s federated credential for ``subject``: Entra refuses its tokens (AADSTS70021)."""
        self._call("clients/federated/remove", client_id=client_id, subject=subject)

    def add_web_service_user(self, user: str | None = None, access_key: str | None = None) -> tuple[str, str]:
        """A Business Central on-premises user with a web service access key (random unless given):
        ``(user, key)``, for Basic auth on :meth:`on_premises_url`."""
        result = self._call("users", user=user, access_key=access_key)
        return str(result["user"]), str(result["access_key"])

    def assign_managed_identity(self, client_id: str | None = None, *, style: str = "app_service") -> dict[str, str]:
        """Give this host a managed identity: a user-assigned one (``client_id``: its client id or resource
        id) or, without one, the
        system-assigned one. Returns the environment variables that point MSAL at the emulator's
        endpoint of ``style``: ``app_service`` (``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER``) or ``imds``
        (``AZURE_POD_IDENTITY_AUTHORITY_HOST``, MSAL's override of ``http://169.254.169.254``)."""
        result = self._call("identities", client_id=client_id)
        if style == "imds":
            return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": f"{self.base_url}/_emulator/identity/imds"}
        if style != "app_service":
            raise ValueError(f"style must be 'app_service' or 'imds', not {style!r}")
        return {
            "IDENTITY_ENDPOINT": f"{self.base_url}/_emulator/identity/msi/token",
            "IDENTITY_HEADER": str(result["identity_header"]),
        }
