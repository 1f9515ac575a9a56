"""Emulator throughput: read 100,000 item ledger entries at 20,000 per page, side by side with the same
page bodies served as static bytes by the same TLS server machinery (uvicorn, same certificate).

    python benchmarks/emulator_throughput.py

Prints entries/s for both and the ratio emulator/static (best of 3 each, runs interleaved).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from airflow_provider_bc.testing.emulator import EmulatorHandle

ENTRIES = 100_000
RUNS = 3
TARGET = 50_000  # entries/s


def read_all(session: requests.Session, url: str, token: str | None, verify: str) -> list[bytes]:
    """Follow nextLinks from ``url`` like a client: every page fetched and parsed; returns the bodies."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    bodies = []
    next_url: str | None = url
    while next_url:
        response = session.get(next_url, headers=headers, verify=verify, timeout=120)
        response.raise_for_status()
        bodies.append(response.content)
        next_url = json.loads(response.content).get("@odata.nextLink")
    return bodies


def serve_static(directory: Path) -> None:
    """Serve ``directory/page-N.json`` at ``/page/N`` over TLS (``server.pem``); write the port to ``port``."""
    import uvicorn

    pages = {f"/page/{p.stem.split('-')[1]}": p.read_bytes() for p in directory.glob("page-*.json")}
    headers = [(b"content-type", b"application/json; odata.metadata=minimal; odata.streaming=true")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = pages[scope["path"]]
        length = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers + length})
        await send({"type": "http.response.body", "body": body})

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    base = f"https://127.0.0.1:{port}".encode()
    for name, body in pages.items():  # the nextLinks point at this server's next page
        pages[name] = body.replace(b"__STATIC__", base)
    config = uvicorn.Config(
        app,
        ssl_certfile=str(directory / "server.pem"),
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:
            await asyncio.sleep(0.01)
        (directory / "port").write_text(str(port))
        await serving

    asyncio.run(run())


def write_static_copy(bodies: list[bytes], emulator: EmulatorHandle, directory: Path) -> None:
    """The emulator's page bodies, each nextLink pointing at the next static page instead."""
    for index, body in enumerate(bodies):
        page = json.loads(body)
        if "@odata.nextLink" in page:
            body = body.replace(page["@odata.nextLink"].encode(), f"__STATIC__/page/{index + 1}".encode())
        (directory / f"page-{index}.json").write_bytes(body)
    (directory / "server.pem").write_bytes((emulator.state_dir / "server.pem").read_bytes())


def start_static(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen([sys.executable, __file__, "--static", str(directory)])
    deadline = time.monotonic() + 60
    while not (directory / "port").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the static server did not start")
        time.sleep(0.05)
    return process, f"https://127.0.0.1:{(directory / 'port').read_text()}"


def main() -> None:
    started = time.perf_counter()
    with EmulatorHandle.start(entries=ENTRIES) as emulator, tempfile.TemporaryDirectory() as folder:
        print(f"emulator with {ENTRIES:,} entries ready in {time.perf_counter() - started:.1f} s")
        token = emulator.token()
        url = f"{emulator.api_url()}/companies({emulator.default_company_id})/itemLedgerEntries"
        session = requests.Session()
        bodies = read_all(session, url, token, emulator.ca_bundle)  # warm-up, and the bytes to serve
        count = sum(len(json.loads(body)["value"]) for body in bodies)
        assert count == ENTRIES, count
        static_dir = Path(folder)
        write_static_copy(bodies, emulator, static_dir)
        static, static_base = start_static(static_dir)
        try:
            times: dict[str, list[float]] = {"emulator": [], "static": []}
            for _ in range(RUNS):
                for name, first, bearer in (("emulator", url, token), ("static", f"{static_base}/page/0", None)):
                    begin = time.perf_counter()
                    pages = read_all(session, first, bearer, emulator.ca_bundle)
                    times[name].append(time.perf_counter() - begin)
                    assert len(pages) == len(bodies)
        finally:
            session.close()
            static.terminate()
            static.wait()
        size = sum(map(len, bodies)) / 1e6
        print(f"read: {ENTRIES:,} entries in {len(bodies)} pages of 20,000, {size:.1f} MB, best of {RUNS}")
        rates = {name: ENTRIES / min(runs) for name, runs in times.items()}
        for name, runs in times.items():
            listed = ", ".join(f"{t:.2f}" for t in runs)
            print(f"  {name:9s} {rates[name]:>10,.0f} entries/s   (runs: {listed} s)")
        print(f"  ratio emulator/static: {rates['emulator'] / rates['static']:.2f}")
        verdict = "met" if rates["emulator"] >= TARGET else "NOT met"
        print(f"  target >= {TARGET:,} entries/s: {verdict}")
        ratio = rates["emulator"] / rates["static"]
        print(f"RESULT emulator_rate={rates['emulator']:.0f} static_rate={rates['static']:.0f} ratio={ratio:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--static"]:
        serve_static(Path(sys.argv[2]))
    else:
        main()
