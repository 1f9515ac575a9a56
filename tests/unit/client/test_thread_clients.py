"""ThreadClients: one client per thread that asks (made once, reused), every one closed together."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow_provider_bc.client.thread_clients import ThreadClients


class _Client:
    """Counts its closes."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def _clients() -> tuple[ThreadClients, list[_Client]]:
    made: list[_Client] = []

    def new_client() -> Any:
        made.append(_Client())
        return made[-1]

    return ThreadClients(new_client), made


def test_a_thread_gets_its_own_client_again_and_again() -> None:
    clients, made = _clients()
    first = clients.get()
    assert clients.get() is first and made == [first]


def test_each_thread_gets_a_client_of_its_own_and_close_closes_them_all_once() -> None:
    clients, made = _clients()
    together = threading.Barrier(4)  # all four threads alive at once: none can reuse another's thread

    def use(_: int) -> tuple[Any, Any]:
        together.wait(timeout=10)
        return clients.get(), clients.get()

    with ThreadPoolExecutor(4) as pool:
        pairs = list(pool.map(use, range(4)))
    assert all(a is b for a, b in pairs) and len({id(a) for a, _ in pairs}) == 4 == len(made)
    assert all(clients.get() is not a for a, _ in pairs)  # this thread: a fifth client
    clients.close()
    assert len(made) == 5 and [client.closed for client in made] == [1] * 5
