"""URL shapes the emulator answers, resolved to a named route with the parts the handlers need."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

CONTROL_PREFIX = "/_emulator/"
ENTRA_ROUTES = frozenset({"discovery", "token"})
METADATA = "$metadata"
BATCH = "$batch"
COUNT_SUFFIX = "/$count"  # of the route counting a collection: ``companies/$count``, ``itemLedgerEntries/$count``
ROUTE_NAMES = frozenset(
    {
        "discovery",
        "token",
        METADATA,
        BATCH,
        "companies",
        "company",
        "companies" + COUNT_SUFFIX,
        "itemLedgerEntries",
        "itemLedgerEntry",
        "itemLedgerEntries" + COUNT_SUFFIX,
        "other",
    }
)
_DISCOVERY = re.compile(r"/(?P<tenant>[^/]+)(?:/v2\.0)?/\.well-known/openid-configuration")
_TOKEN = re.compile(r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token")
_API = re.compile(r"(?P<root>/v2\.0/(?:(?P<tenant>[^/]+)/)?(?P<environment>[^/]+)/api/v2\.0)/(?P<resource>.*)")
_ON_PREMISES = re.compile(r"(?P<root>/(?P<instance>[A-Za-z0-9_-]+)/api/v2\.0)/(?P<resource>.*)")
_RESOURCE = re.compile(
    r"(?:companies\((?P<company>[^/]*)\)/)?(?P<set>companies|itemLedgerEntries)"
    r"(?:\((?P<key>[^/]*)\)|(?P<count>/\$count))?"
)


@dataclass(frozen=True)
class Route:
    """A resolved request path. ``root`` is the BC service root path (``/v2.0/.../api/v2.0``)."""

    name: str
    tenant: str | None = None
    environment: str | None = None
    root: str = ""
    company_key: str | None = None
    key: str | None = None
    #: ``/{instance}/api/v2.0/...``: Business Central on-premises (Basic auth), the instance named as an environment
    on_premises: bool = False


def resolve(path: str) -> Route:
    """Name the route of ``path`` (for counters and faults) and extract its parts."""
    if match := _DISCOVERY.fullmatch(path):
        return Route("discovery", tenant=match["tenant"])
    if match := _TOKEN.fullmatch(path):
        return Route("token", tenant=match["tenant"])
    if match := _ON_PREMISES.fullmatch(path):
        route = resolve(f"/v2.0/{match['instance']}/api/v2.0/{match['resource']}")
        return route if route.name == "other" else replace(route, root=match["root"], on_premises=True)
    api = _API.fullmatch(path)
    if api is not None and api["resource"] in (METADATA, BATCH):
        return Route(api["resource"], tenant=api["tenant"], environment=api["environment"], root=api["root"])
    resource = _RESOURCE.fullmatch(api["resource"]) if api else None
    if api is None or resource is None:
        return Route("other")
    if resource["set"] == "companies":
        if resource["company"] is not None:
            return Route("other")
        name = "companies" if resource["key"] is None else "company"
    else:
        name = "itemLedgerEntries" if resource["key"] is None else "itemLedgerEntry"
    name += COUNT_SUFFIX if resource["count"] else ""
    return Route(
        name,
        tenant=api["tenant"],
        environment=api["environment"],
        root=api["root"],
        company_key=resource["company"] if name.startswith("item") else resource["key"],
        key=resource["key"] if name == "itemLedgerEntry" else None,
    )
