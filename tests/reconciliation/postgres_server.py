"""A real, throw-away PostgreSQL server for tests, from Debian's ``postgresql`` package.

:func:`ensure_postgresql` finds the newest ``/usr/lib/postgresql/<major>/bin`` (installing the
package with apt when missing, as root; otherwise the test fails saying what to install).
:class:`PostgresServer` runs ``initdb`` into a temporary folder and ``pg_ctl`` on a free loopback port
(as the package's ``postgres`` user when root: PostgreSQL refuses to run as root), with trust auth
and no durability (no fsync: the data is thrown away). The server can be taken down
(:meth:`PostgresServer.kill`) and brought back on the same port (:meth:`PostgresServer.start`).
"""

from __future__ import annotations

import atexit
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql
from psycopg2.extensions import connection as Psycopg2Connection

from tests.support import apt_install

PG_ROOT = Path("/usr/lib/postgresql")
#: the OS user the Debian package creates, and the server's superuser (``initdb -U``)
POSTGRES_USER = "postgres"
START_TIMEOUT = 30  # seconds pg_ctl waits for the server (2 cores shared with other tests)
#: no fsync: nothing here outlives the test session, and the OS (page cache) never crashes under it. Not
#: ``synchronous_commit=off``: a commit would be acknowledged before its WAL is written, and lost by kill()
FAST_SETTINGS = ("fsync=off",)


class PostgresServerError(RuntimeError):
    """``initdb`` or ``pg_ctl`` failed; the message holds their output and the server log's tail."""


def find_postgresql(root: Path = PG_ROOT) -> Path | None:
    """The ``bin`` folder of the highest PostgreSQL major under ``root`` with ``initdb`` and ``pg_ctl``."""
    found = []
    for folder in root.glob("*/bin") if root.is_dir() else ():
        version = folder.parent.name
        if all(part.isdigit() for part in version.split(".")) and all(
            (folder / tool).is_file() for tool in ("initdb", "pg_ctl")
        ):
            found.append((tuple(int(part) for part in version.split(".")), folder))
    return max(found)[1] if found else None


def ensure_postgresql(root: Path = PG_ROOT) -> Path:
    """The folder of ``initdb`` and ``pg_ctl``; Debian's ``postgresql`` is installed when missing (as root, apt)."""
    found = find_postgresql(root)
    if found is not None:
        return found
    apt_install(["postgresql"], f"the PostgreSQL tests need initdb and pg_ctl in {root}/<major>/bin")
    found = find_postgresql(root)
    if found is None:
        pytest.fail(f"`apt-get install -y postgresql` left no initdb and pg_ctl in {root}/<major>/bin", pytrace=False)
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server on 127.0.0.1 with a fresh cluster; superuser ``postgres``, trust auth.

    ``with PostgresServer() as server:`` starts it and at the end stops it and removes its folder.
    """

    host = "127.0.0.1"
    user = POSTGRES_USER
    dbname = "postgres"

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir if bin_dir is not None else ensure_postgresql()
        self.port = 0  # chosen at the first start, kept afterwards
        self.base: Path | None = None
        self._as_root = os.geteuid() == 0

    @property
    def data_dir(self) -> Path:
        return self._base() / "data"

    @property
    def log_path(self) -> Path:
        return self._base() / "server.log"

    def start(self) -> PostgresServer:
        """Create the cluster (first time only) and start the server; on a failed start, raise with the log's tail."""
        if self.base is None:
            self._init_cluster()
            atexit.register(self.stop)
        if self.is_running():
            return self
        if self.port:  # a restart: the same port, so connections made for it keep working
            self._pg_ctl_start()
            return self
        for attempt in range(3):  # another process may take the probed port before the server binds it
            self.port = free_port()
            try:
                self._pg_ctl_start()
                return self
            except PostgresServerError as error:
                if attempt == 2 or "could not bind" not in str(error):
                    self.port = 0
                    raise
        raise AssertionError("unreachable")

    def kill(self) -> None:
        """Take the server down at once (``pg_ctl stop -m immediate``); the data is kept for :meth:`start`."""
        if self.base is not None and self.is_running():
            self._run(self._pg_ctl("stop", "-m", "immediate", "-w"), "pg_ctl stop")

    def stop(self) -> None:
        """Kill the server and remove its folder (the cluster is gone; :meth:`start` makes a new one)."""
        if self.base is None:
            return
        try:
            self.kill()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
            self.port = 0
            atexit.unregister(self.stop)

    def is_running(self) -> bool:
        """Whether the server's postmaster is up (``pg_ctl status``)."""
        if self.base is None:
            return False
        return self._subprocess(self._pg_ctl("status")).returncode == 0

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def uri(self, dbname: str | None = None) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/DBNAME`` (the default database ``postgres``)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname or self.dbname}"

    def airflow_conn_json(self, dbname: str | None = None) -> str:
        """The JSON of an Airflow ``postgres`` connection to the server (for an ``AIRFLOW_CONN_<ID>`` variable)."""
        return json.dumps(
            {
                "conn_type": "postgres",
                "host": self.host,
                "port": self.port,
                "login": self.user,
                "schema": dbname or self.dbname,
            }
        )

    def airflow_conn_env(self, conn_id: str, dbname: str | None = None) -> tuple[str, str]:
        """``(AIRFLOW_CONN_<ID>, json)``: ``monkeypatch.setenv(*server.airflow_conn_env("warehouse"))``."""
        return f"AIRFLOW_CONN_{conn_id.upper()}", self.airflow_conn_json(dbname)

    def connect(self, dbname: str | None = None, **kwargs: Any) -> Psycopg2Connection:
        """A psycopg2 connection over TCP (``OperationalError`` when the server is down)."""
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=dbname or self.dbname,
            connect_timeout=5,
            **kwargs,
        )

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a unique ``test_…`` name unless given) and return its name."""
        name = name or f"test_{uuid.uuid4().hex[:16]}"
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop the database if it exists, ending any connection still open to it."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composable) -> None:
        connection = self.connect()
        try:
            connection.autocommit = True  # CREATE and DROP DATABASE refuse to run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def _base(self) -> Path:
        if self.base is None:
            raise PostgresServerError("the server was never started (or was stopped)")
        return self.base

    def _init_cluster(self) -> None:
        base = Path(tempfile.mkdtemp(prefix="bc-postgres-"))
        self.base = base
        (base / "socket").mkdir()
        if self._as_root:
            try:
                account = pwd.getpwnam(POSTGRES_USER)
            except KeyError:
                self.stop()
                pytest.fail(f"no `{POSTGRES_USER}` user: `apt-get install -y postgresql` creates it", pytrace=False)
            for path in (base, base / "socket"):
                os.chown(path, account.pw_uid, account.pw_gid)
        initdb = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.user, "--auth=trust"]
        initdb += ["-E", "UTF8", "--locale=C", "--no-sync"]  # C: no OS locale needed; no-sync: faster
        try:
            self._run(initdb, "initdb")
        except PostgresServerError:
            self.stop()
            raise

    def _pg_ctl_start(self) -> None:
        options = f"-p {self.port} -k {self._base() / 'socket'} -c listen_addresses={self.host}"
        options += "".join(f" -c {setting}" for setting in FAST_SETTINGS)
        command = self._pg_ctl("start", "-o", options, "-l", str(self.log_path), "-w", "-t", str(START_TIMEOUT))
        self._run(command, "pg_ctl start", log_tail=True)

    def _pg_ctl(self, action: str, *args: str) -> list[str]:
        return [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args, action]

    def _run(self, command: Sequence[str], what: str, log_tail: bool = False) -> None:
        done = self._subprocess(command)
        if done.returncode != 0:
            message = f"`{what}` failed (exit {done.returncode}):\n{done.stdout}{done.stderr}"
            if log_tail:
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"
                message += f"\nthe server log's tail:\n{log[-3000:]}"
            raise PostgresServerError(message)

    def _subprocess(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run ``command`` as the ``postgres`` user when root (in the server's folder, which it owns)."""
        as_postgres: dict[str, Any] = {}
        if self._as_root:
            account = pwd.getpwnam(POSTGRES_USER)
            as_postgres = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        return subprocess.run(
            list(command),
            cwd=self._base(),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT + 30,
            **as_postgres,
        )
