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
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields

from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.triggers.coalescing import CoalescingAsyncClient


@dataclass
class _Shared:
    made: asyncio.Task[CoalescingAsyncClient]  # in a worker thread: it reads the CA bundle, may import httpx
    users: int = 0


_shared: dict[tuple[int, str], _Shared] = {}


def _settings_key(settings: ClientSettings) -> str:
    """A digest of every field, secrets included (so a rotated secret gets its own client), never the text."""
    text = repr([(f.name, repr(getattr(settings, f.name))) for f in fields(settings)])
    return hashlib.sha256(text.encode()).hexdigest()


@asynccontextmanager
async def shared_async_client(settings: ClientSettings) -> AsyncIterator[AsyncBusinessCentralClient]:
    """The async client for ``settings`` on the running loop: made (off the loop) for its first user,
    closed when its last user leaves."""
    key = (id(asyncio.get_running_loop()), _settings_key(settings))
    shared = _shared.get(key)
    if shared is None:
        shared = _shared[key] = _Shared(asyncio.ensure_future(asyncio.to_thread(CoalescingAsyncClient, settings)))
    shared.users += 1
    try:
        yield await asyncio.shield(shared.made)
    finally:
        shared.users -= 1
        if shared.users == 0:
            del _shared[key]
            await _close(shared.made)


async def _close(made: asyncio.Task[CoalescingAsyncClient]) -> None:
    """Stop the client's batches and close its connection pool (once made; one that failed is not there)."""
    try:
        client = await made
    except Exception:  # its users got the error
        return
    await client.__aexit__(None, None, None)
