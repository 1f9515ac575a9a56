"""The one place where Business Central URLs are built, and where the API origin is enforced."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from airflow_provider_bc.client.errors import (
    BusinessCentralBadAnswerError,
    BusinessCentralConfigError,
    BusinessCentralUnsafeLinkError,
)
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.values import CompanyId, EntityId, EntitySet

_UNSAFE_URL = re.compile(r"[\\\s\x00-\x1f\x7f]")


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an absolute URL, lower-cased, with the scheme's default port filled in.

    Raises ``ValueError`` for a port that is not a number from 0 to 65535.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"https": 443, "http": 80}.get(scheme, 0)
    return scheme, (parts.hostname or "").lower(), port


class ApiUrls:
    """Builds API URLs for one environment and pins requests to its origin."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self.origin = origin_of(settings.api_host)
        self._origin_parts = urlsplit(settings.api_host)
        online = f"v2.0/{quote(settings.tenant_id)}/{quote(settings.environment)}/"
        # on-premises: the host carries port and server instance (https://bc.local:7048/BC), no tenant
        self.service_root = f"{settings.api_host}/{'' if settings.on_premises else online}{settings.api_route}"

    def company_id(self, company_id: CompanyId | None) -> CompanyId:
        """The company to use: the argument, else the settings' default."""
        chosen = company_id or self._settings.company_id
        if not chosen:
            raise BusinessCentralConfigError(
                "company_id",
                "no company given: pass company_id or set extra 'company_id' on the connection",
                source=self._settings.source,
            )
        return CompanyId.of(chosen)  # checked already: by the settings, or where the argument was made

    def metadata(self) -> str:
        """URL of the service's ``$metadata`` document (EDMX: entity types and sets)."""
        return f"{self.service_root}/$metadata"

    def batch(self) -> str:
        """URL of the ``$batch`` endpoint: many requests in one POST."""
        return f"{self.service_root}/$batch"

    def in_batch(self, url: str, params: Mapping[str, str] | None) -> str:
        """``url`` with ``params`` as the URL of an operation of a ``$batch``: relative to the service root."""
        relative = url.removeprefix(f"{self.service_root}/")
        if relative == url:
            raise BusinessCentralBadAnswerError(f"{url[:200]!r} is not under the service root {self.service_root!r}")
        query = urlencode(params or {}, quote_via=quote, safe="$,'()")
        return f"{relative}?{query}" if query else relative

    def companies(self) -> str:
        """URL of the companies collection."""
        return f"{self.service_root}/companies"

    def entity_set(self, entity_set: EntitySet, company_id: CompanyId | None = None) -> str:
        """URL of a company's entity set, e.g. ``.../companies(<id>)/itemLedgerEntries``."""
        return f"{self.service_root}/companies({self.company_id(company_id)})/{entity_set}"

    def entity(self, entity_set: EntitySet, entity_id: EntityId, company_id: CompanyId | None = None) -> str:
        """URL of one entity by its id (SystemId GUID)."""
        return f"{self.entity_set(entity_set, company_id)}({entity_id})"

    def next_link(self, link: object) -> str:
        """A server-sent ``@odata.nextLink`` rebuilt on the configured API origin, or refused.

        The link must name exactly the configured scheme, host and port, with no user info,
        backslash, whitespace or control character that another URL parser could read as a
        different host: the bearer token goes nowhere else. Only its path and query are kept.
        """
        if not isinstance(link, str) or not link:
            raise BusinessCentralBadAnswerError(f"the page's @odata.nextLink is not a URL: {str(link)[:200]!r}")
        try:
            parts = urlsplit(link)
            elsewhere = origin_of(link) != self.origin or parts.username is not None or parts.password is not None
        except ValueError:  # a port that is not a number, an unbalanced IPv6 bracket
            elsewhere = True
        if elsewhere or _UNSAFE_URL.search(link):
            raise BusinessCentralUnsafeLinkError(
                f"refusing to send the bearer token to {link[:200]!r}: it is not on the configured API origin "
                f"{self._settings.api_host!r}"
            )
        return urlunsplit((self._origin_parts.scheme, self._origin_parts.netloc, parts.path, parts.query, ""))
