"""The two paths every fault test runs on: the sync client (requests) and the async client (httpx).

Both are driven through one small interface, so a fault test states its case once and runs it
twice. Waits are shortened through settings (``backoff_factor``, timeouts), never by patching sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient
from airflow_provider_bc.client.base import ReadOptions
from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.odata.paging import Page
from airflow_provider_bc.client.settings import ClientSettings

#: settings every fault test starts from: a budget of 2 retries and short waits
FAST = {"max_retries": 2, "backoff_factor": 0.05, "backoff_max": 0.2, "retry_after_max": 5, "read_timeout": 2.0}


class Reader:
    """One client, sync or async, behind blocking calls (the async one runs in its own event loop)."""

    def __init__(self, path: str, settings: ClientSettings) -> None:
        self.path = path
        if path == "sync":
            self._sync = BusinessCentralClient(settings)
        else:
            self._loop = asyncio.new_event_loop()
            self._async = AsyncBusinessCentralClient(settings)

    def get(self, lookup: Lookup) -> list[dict[str, Any]]:
        """``lookup`` through the client's lookup (by id: the entity, or ``[]`` when missing)."""
        if self.path == "sync":
            return self._sync.lookup(lookup)
        return self._loop.run_until_complete(self._async.lookup(lookup))

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """The client's ``method`` with these arguments (awaited on the async path)."""
        if self.path == "sync":
            return getattr(self._sync, method)(*args, **kwargs)
        return self._loop.run_until_complete(getattr(self._async, method)(*args, **kwargs))

    def pages(self, entity_set: str = "itemLedgerEntries", **options: Any) -> Iterator[Page]:
        """The pages of a collection read, one at a time."""
        return self._iterate("iter_pages", entity_set, options)

    def entities(self, entity_set: str = "itemLedgerEntries", **options: Any) -> Iterator[dict[str, Any]]:
        """The entities of a collection read, one at a time."""
        return self._iterate("iter_entities", entity_set, options)

    def _iterate(self, method: str, entity_set: str, options: dict[str, Any]) -> Iterator[Any]:
        read: ReadOptions = {"select": "id,entryNumber", "page_size": 100, **options}  # type: ignore[typeddict-item]
        if self.path == "sync":
            yield from getattr(self._sync, method)(entity_set, **read)
            return
        items = getattr(self._async, method)(entity_set, **read)
        while True:
            try:
                yield self._loop.run_until_complete(items.__anext__())
            except StopAsyncIteration:
                return

    def close(self) -> None:
        if self.path == "sync":
            self._sync.close()
        else:
            self._loop.run_until_complete(self._async.__aexit__(None, None, None))
            self._loop.close()


@pytest.fixture(params=["sync", "async"])
def path(request: pytest.FixtureRequest) -> str:
    """Which client the test runs on."""
    return str(request.param)


@pytest.fixture
def reader_for(bc_emulator: Any, path: str) -> Iterator[Callable[..., Reader]]:
    """Build a :class:`Reader` on ``path`` for the emulator; keyword arguments override settings
    (``fresh_client=True`` registers a new Entra app: an empty MSAL token cache)."""
    made: list[Reader] = []

    def make(*, fresh_client: bool = False, **overrides: Any) -> Reader:
        if fresh_client:
            overrides["client_id"], overrides["client_secret"] = bc_emulator.register_client()
        reader = Reader(path, emulator_settings(bc_emulator, **overrides))
        made.append(reader)
        return reader

    yield make
    for reader in made:
        reader.close()


def emulator_settings(emulator: Any, **overrides: Any) -> ClientSettings:
    """Settings for the emulator with :data:`FAST` retries; ``None`` overrides are left out."""
    values: dict[str, Any] = {
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "tenant_id": emulator.tenant_id,
        "company_id": emulator.default_company_id,
        "api_host": emulator.base_url,
        "authority": emulator.authority,
        "verify": emulator.ca_bundle,
        **FAST,
    }
    values.update({name: value for name, value in overrides.items() if value is not None})
    return ClientSettings(**values)


def api_requests(emulator: Any, route: str | None = None) -> list[dict[str, Any]]:
    """The requests the emulator received on BC API routes (or on one ``route``), oldest first."""
    entra = {"token", "discovery"}
    return [r for r in emulator.recent_requests() if (r["route"] == route if route else r["route"] not in entra)]


def statuses(emulator: Any, route: str | None = None) -> list[int]:
    """The statuses the emulator answered (0: connection closed without a complete answer)."""
    return [r["status"] for r in api_requests(emulator, route)]
