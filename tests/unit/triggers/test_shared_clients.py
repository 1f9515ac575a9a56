"""shared_async_client: one client per settings and event loop, made off the loop, closed when its last user leaves."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from airflow_provider_bc.triggers import shared_clients
from airflow_provider_bc.triggers.coalescing import CoalescingAsyncClient
from airflow_provider_bc.triggers.shared_clients import shared_async_client
from tests.support import offline_settings


class _Client:
    """Stands in for the coalescing client: records where it was made and how often it was closed."""

    made: ClassVar[list[_Client]] = []
    fail_next = False

    def __init__(self, settings: Any) -> None:
        if _Client.fail_next:
            _Client.fail_next = False
            raise OSError("no CA bundle")
        self.settings, self.thread, self.closed = settings, threading.get_ident(), 0
        _Client.made.append(self)

    async def __aexit__(self, *exc: Any) -> None:
        self.closed += 1


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[_Client]]:
    _Client.made, _Client.fail_next = [], False
    monkeypatch.setattr(shared_clients, "CoalescingAsyncClient", _Client)
    yield _Client.made
    assert not shared_clients._shared  # nothing left behind


async def test_users_of_the_same_settings_share_one_client_closed_by_the_last(fake: list[_Client]) -> None:
    first_in, second_out = asyncio.Event(), asyncio.Event()

    async def first() -> Any:
        async with shared_async_client(offline_settings()) as client:
            first_in.set()
            await second_out.wait()
            assert client.closed == 0  # the other user left: still open for this one
            return client

    async def second() -> Any:
        await first_in.wait()
        async with shared_async_client(offline_settings()) as client:  # equal settings, another object
            pass
        second_out.set()
        return client

    one, other = await asyncio.gather(first(), second())
    assert one is other and fake == [one] and one.closed == 1
    assert one.thread != threading.get_ident()  # made in a worker thread, not on the loop


async def test_a_rotated_secret_gets_another_client_keyed_by_a_digest_of_the_settings(fake: list[_Client]) -> None:
    rotated = offline_settings(client_secret="rotated-secret")
    async with shared_async_client(offline_settings()) as one, shared_async_client(rotated) as other:
        assert one is not other and [c.settings for c in fake] == [offline_settings(), rotated]
        keys = [key for _, key in shared_clients._shared]
        assert len(set(keys)) == 2 and all(len(key) == 64 and set(key) <= set("0123456789abcdef") for key in keys)
    assert [c.closed for c in fake] == [1, 1]


def test_each_event_loop_gets_a_client_of_its_own(fake: list[_Client]) -> None:
    loops = [asyncio.new_event_loop() for _ in range(2)]
    uses = [shared_async_client(offline_settings()) for _ in loops]
    try:
        clients = [loop.run_until_complete(use.__aenter__()) for loop, use in zip(loops, uses, strict=True)]
        assert clients[0] is not clients[1] and len(shared_clients._shared) == 2
        for loop, use in zip(loops, uses, strict=True):
            loop.run_until_complete(use.__aexit__(None, None, None))
    finally:
        for loop in loops:
            loop.close()
    assert [c.closed for c in fake] == [1, 1]


async def test_a_client_that_could_not_be_made_fails_its_user_and_is_made_again_next_time(fake: list[_Client]) -> None:
    _Client.fail_next = True
    with pytest.raises(OSError, match="no CA bundle"):
        async with shared_async_client(offline_settings()):
            pass
    assert not shared_clients._shared and fake == []
    async with shared_async_client(offline_settings()) as client:
        assert fake == [client]


async def test_the_real_client_is_a_coalescing_one() -> None:
    async with shared_async_client(offline_settings()) as client:  # made and closed without a request
        assert isinstance(client, CoalescingAsyncClient) and client.settings == offline_settings()
    assert not shared_clients._shared
