"""Start the emulator: TLS certificate (trustme), seeded state, uvicorn on a bound socket, readiness.

Certificates, client applications (with the token-signing key) and changed entries are kept in the
state directory, so a start on the same directory and port (:meth:`EmulatorHandle.restart`) continues
where the previous process stopped: see :mod:`.persistence`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shlex
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from . import seed
from .app import EmulatorApp
from .bc_api import BusinessCentralApi
from .entra import Directory
from .environments import Environments
from .faults import FaultScript
from .limits import Admission
from .persistence import EntryJournal, certificates, load_identity, save_identity
from .settings import RuntimeConfig, ServerOptions
from .state import EmulatorState
from .stats import Stats
from .store import Store

CONNECTION_ENV = "AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT"


def describe(options: ServerOptions, base_url: str, ca_bundle: Path, client: tuple[str, str]) -> dict[str, Any]:
    """Everything a client needs, including the Airflow connection in its JSON form."""
    client_id, client_secret = client
    environment = seed.ENVIRONMENTS[0]
    return {
        "base_url": base_url,
        "authority": base_url,
        "tenant_id": seed.TENANT_ID,
        "tenant_domain": seed.TENANT_DOMAIN,
        "environment": environment,
        "environments": list(seed.ENVIRONMENTS),
        "api_url": f"{base_url}/v2.0/{seed.TENANT_ID}/{environment}/api/v2.0",
        "client_id": client_id,
        "client_secret": client_secret,
        "companies": [{"id": c.id, "name": c.name} for c in seed.COMPANIES],
        "default_company_id": seed.DEFAULT_COMPANY_ID,
        "documented_entry_id": seed.DOCUMENTED_ENTRY_ID,
        "entries": options.entries,
        "seed": options.seed,
        "ca_bundle": str(ca_bundle),
        "pid": os.getpid(),
        "connection": {
            "conn_type": "business_central",
            "login": client_id,
            "password": client_secret,
            "host": base_url,
            "extra": {
                "tenant_id": seed.TENANT_ID,
                "environment": environment,
                "company_id": seed.DEFAULT_COMPANY_ID,
                "authority": base_url,
                "verify": str(ca_bundle),
            },
        },
    }


def shell_exports(info: dict[str, Any]) -> str:
    """``export`` lines for a shell: the Airflow connection, the emulator's URL and its CA bundle."""
    connection = json.dumps(info["connection"], separators=(",", ":"))
    return (
        f"export {CONNECTION_ENV}={shlex.quote(connection)}\n"
        f"export BC_EMULATOR_URL={shlex.quote(info['base_url'])}\n"
        f"export BC_EMULATOR_CA={shlex.quote(info['ca_bundle'])}\n"
    )


def banner(info: dict[str, Any]) -> str:
    """The human-readable start message, ending with the Airflow connection export line."""
    companies = "\n".join(f"  company        {c['id']}  {c['name']}" for c in info["companies"])
    connection = json.dumps(info["connection"], separators=(",", ":"))
    return (
        f"Business Central emulator ready (pid {info['pid']})\n"
        f"  base URL       {info['base_url']}\n"
        f"  API            {info['api_url']}\n"
        f"  authority      {info['authority']}  (MSAL: {info['authority']}/{info['tenant_id']})\n"
        f"  tenant         {info['tenant_id']}  ({info['tenant_domain']})\n"
        f"  environment    {info['environment']}  (known: {', '.join(info['environments'])})\n"
        f"  client id      {info['client_id']}\n"
        f"  client secret  {info['client_secret']}\n"
        f"  CA bundle      {info['ca_bundle']}\n"
        f"{companies}\n"
        f"  default company {info['default_company_id']} ({info['entries']} item ledger entries)\n"
        f"  control API    {info['base_url']}/_emulator/info\n"
        f"export {CONNECTION_ENV}={shlex.quote(connection)}"
    )


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run(options: ServerOptions, config: RuntimeConfig) -> None:
    """Serve until SIGINT (:class:`KeyboardInterrupt`) or SIGTERM (:class:`SystemExit` 143); call from
    the main thread. Without ``options.state_dir`` the state (with the server's private key) lives in
    a new temp dir, removed however serving ends."""
    # uvicorn shuts down gracefully on SIGTERM, then raises it again: this handler, not the default
    # one (which ends the process at once), makes that unwind through the ``finally`` below
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    state_dir = options.state_dir or Path(tempfile.mkdtemp(prefix="bc-emulator-"))
    try:
        _run_in(state_dir, options, config)
    finally:
        if options.env_file is not None:  # valid only while this emulator runs
            options.env_file.unlink(missing_ok=True)
        if options.state_dir is None:
            shutil.rmtree(state_dir, ignore_errors=True)


def _run_in(state_dir: Path, options: ServerOptions, config: RuntimeConfig) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    ca_bundle, server_pem = certificates(state_dir)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((options.host, options.port))
    base_url = f"https://{options.host}:{listener.getsockname()[1]}"
    directory = Directory(
        seed.TENANT_ID, seed.TENANT_DOMAIN, base_url, config, on_change=lambda data: save_identity(state_dir, data)
    )
    identity = load_identity(state_dir)
    if identity is not None:
        directory.restore(identity)
    info = describe(options, base_url, ca_bundle, directory.register_once(seed.DEFAULT_CLIENT_ID))
    save_identity(state_dir, directory.snapshot())
    environments = Environments(
        seed.ENVIRONMENTS,
        Store.seeded(options.seed, options.entries),
        lambda name: EntryJournal(state_dir, name, options.seed, options.entries),
    )
    state = EmulatorState(
        info=info,
        defaults=copy.copy(config),
        config=config,
        environments=environments,
        directory=directory,
        admission=Admission(config),
        faults=FaultScript(),
        stats=Stats(),
    )
    app = EmulatorApp(state, BusinessCentralApi(environments, base_url))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            ssl_certfile=str(server_pem),
            lifespan="off",
            server_header=False,
            access_log=options.access_log,
            log_level="info",
            timeout_graceful_shutdown=1,  # idle keep-alive TLS connections would hold shutdown for 30 s
        )
    )
    asyncio.run(_serve(server, listener, info, options))


def _write_at_once(path: Path, text: str) -> None:
    """Write ``path`` (owner-only: it holds the emulator's client secret) so that a reader polling
    for it never sees it half written."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)
    partial.write_text(text)
    partial.replace(path)


async def _serve(server: uvicorn.Server, listener: socket.socket, info: dict[str, Any], options: ServerOptions) -> None:
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        print(banner(info), flush=True)
        if options.ready_file is not None:
            _write_at_once(options.ready_file, json.dumps(info, indent=2))
        if options.env_file is not None:
            _write_at_once(options.env_file, shell_exports(info))
    await serving
