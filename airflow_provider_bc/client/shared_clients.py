"""One async client per connection settings and event loop, shared by every user on that loop.

A triggerer runs all its triggers on one event loop: sharing the client gives them one connection
pool (besides the one MSAL application per credential and the one governor per principal that every
client of a process shares already), and their lookups by id share ``$batch`` requests
(:mod:`.coalescing`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, fields

from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient
from airflow_provider_bc.client.coalescing import CoalescingAsyncClient
from airflow_provider_bc.client.settings import ClientSettings


@dataclass
class _Shared:
    client: AsyncBusinessCentralClient
    users: int = 0
    closing: AsyncExitStack = field(default_factory=AsyncExitStack)


_shared: dict[tuple[int, str], _Shared] = {}


def _settings_key(settings: ClientSettings) -> str:
    """A digest of every field, secrets included (so a rotated secret gets its own client), never the text."""
    text = repr([(f.name, repr(getattr(settings, f.name))) for f in fields(settings)])
    return hashlib.sha256(text.encode()).hexdigest()


@asynccontextmanager
async def shared_async_client(settings: ClientSettings) -> AsyncIterator[AsyncBusinessCentralClient]:
    """The async client for ``settings`` on the running loop: made by its first user, closed when
    its last user leaves."""
    key = (id(asyncio.get_running_loop()), _settings_key(settings))
    shared = _shared.get(key)
    if shared is None:
        shared = _shared[key] = _Shared(CoalescingAsyncClient(settings))
        shared.closing.push_async_exit(shared.client)  # its __aexit__ stops its batches, closes the connection pool
    shared.users += 1
    try:
        yield shared.client
    finally:
        shared.users -= 1
        if shared.users == 0:
            del _shared[key]
            await shared.closing.aclose()
