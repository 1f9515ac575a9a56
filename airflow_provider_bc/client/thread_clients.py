"""The clients of a run read side by side: one per thread (a session is not shared across threads), all
closed together when the run ends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_bc.client.client import BusinessCentralClient


class ThreadClients:
    """Clients made by ``new_client``, one per thread that asks for one."""

    def __init__(self, new_client: Callable[[], BusinessCentralClient]) -> None:
        self._new_client = new_client
        self._local = threading.local()
        self._lock = threading.Lock()
        self._made: list[BusinessCentralClient] = []

    def get(self) -> BusinessCentralClient:
        """This thread's client."""
        client: BusinessCentralClient | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._new_client()
            with self._lock:
                self._made.append(client)
        return client

    def close(self) -> None:
        """Close every client made."""
        with self._lock:
            for client in self._made:
                client.close()
