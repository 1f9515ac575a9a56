"""Proxies: token requests (MSAL's http client) and API requests, sync and async, go through a real
HTTP CONNECT proxy (``proxy.py`` on loopback) with TLS verified end to end (the emulator's CA bundle)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient
from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.odata.lookup import Lookup
from airflow_provider_bc.client.settings import ClientSettings


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, psutil.Process, Path]]:
    """``(url, process, access log)`` of a ``proxy.py`` HTTP proxy on a free loopback port."""
    work = tmp_path_factory.mktemp("proxy")
    port_file, log_file = work / "port", work / "access.log"
    command = [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]
    command += ["--num-workers", "1", "--num-acceptors", "1", "--threaded", "--log-file", str(log_file)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert process.poll() is None and time.monotonic() < deadline, "proxy.py did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}", psutil.Process(process.pid), log_file
    finally:
        process.terminate()
        process.wait(timeout=30)


def tcp_ends(remote_port: int) -> dict[str, int | None]:
    """``ip:port`` -> owning process id of every socket connected to ``remote_port`` (one snapshot)."""
    return {
        f"{c.laddr.ip}:{c.laddr.port}": c.pid
        for c in psutil.net_connections("tcp")
        if c.raddr and c.raddr.port == remote_port
    }


@pytest.mark.parametrize("path", ["sync", "async"])
def test_token_and_api_requests_go_through_the_proxy_with_tls_verified(
    bc_emulator: Any,
    connect: Callable[..., ClientSettings],
    proxy: tuple[str, psutil.Process, Path],
    path: str,
) -> None:
    proxy_url, proxy_process, access_log = proxy
    client_id, secret = bc_emulator.register_client()  # a new MSAL app: its token request is made here
    settings = connect(client_id, secret, proxies={"https": proxy_url})
    assert settings.verify == bc_emulator.ca_bundle  # verified against the emulator's CA, not turned off
    emulator_port = urlsplit(bc_emulator.base_url).port
    lookup = Lookup.build("itemLedgerEntries", entity_id=bc_emulator.documented_entry_id)

    def check_while_connected(entry: dict[str, Any]) -> None:
        assert entry["id"] == bc_emulator.documented_entry_id
        # while the pooled connections are open: the emulator's peers are the proxy's sockets, not ours
        peers = {r["route"]: r["connection"] for r in bc_emulator.recent_requests()}
        assert {"discovery", "token", "itemLedgerEntry"} <= set(peers)
        owners = tcp_ends(emulator_port)
        proxy_pids = {proxy_process.pid, *(child.pid for child in proxy_process.children(recursive=True))}
        assert {route: owners.get(peer) in proxy_pids for route, peer in peers.items()} == dict.fromkeys(peers, True)

    if path == "sync":
        client = BusinessCentralClient(settings)
        try:
            check_while_connected(client.get(lookup))
        finally:
            client.close()
    else:

        async def read() -> None:
            async with AsyncBusinessCentralClient(settings) as client:
                (entry,) = await client.lookup(lookup)
                check_while_connected(entry)

        asyncio.run(read())
    # the proxy's access log names a tunnel when it closes (the API's: the client was closed)
    deadline = time.monotonic() + 10
    while f"CONNECT 127.0.0.1:{emulator_port}" not in access_log.read_text():
        assert time.monotonic() < deadline, access_log.read_text()
        time.sleep(0.1)
