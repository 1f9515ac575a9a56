"""Client-side handle: start the emulator as a subprocess and drive it through its control API."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests

BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
_NOT_GIVEN: Any = object()  # add_fault's ``value`` when none is given (``None`` is the JSON null)


class EmulatorError(RuntimeError):
    """The emulator did not start, or a control API call failed."""


def _json_value(value: Any) -> str:
    """A decimal travels to the control API as its text, kept exactly."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _launch(
    command: list[str], state_dir: Path, timeout: float, append_log: bool
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Run ``command`` (the emulator, without ``--ready-file``) and wait for its ready file."""
    ready_file, log_file = state_dir / "ready.json", state_dir / "emulator.log"
    ready_file.unlink(missing_ok=True)
    with log_file.open("ab" if append_log else "wb") as log:
        # The command is this interpreter running our own module with our own options.
        process = subprocess.Popen(  # noqa: S603
            [*command, "--ready-file", str(ready_file)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + timeout
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            reason = f"exited with code {process.returncode}" if process.returncode else "timed out"
            raise EmulatorError(f"The emulator {reason} before it was ready; its output:\n{_tail(log_file)}")
        time.sleep(0.05)
    info: dict[str, Any] = json.loads(ready_file.read_text())
    return process, info


class EmulatorHandle:
    """A running emulator subprocess: its connection details and control API.

    Use :meth:`start` (also as a context manager); :meth:`stop` ends the process. :meth:`restart`,
    :meth:`down`, :meth:`stop_process` and :meth:`start_process` end and start it again in place.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        info: dict[str, Any],
        state_dir: Path,
        owned: bool,
        command: list[str] | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.process = process
        self.info = info
        self.state_dir = state_dir
        self._owned_dir = owned
        self._command = command
        self._timeout = timeout
        self._session = requests.Session()

    @classmethod
    def start(
        cls,
        entries: int = 1000,
        seed: int = 42,
        *,
        timeout: float = 120.0,
        state_dir: str | Path | None = None,
        **cli_options: Any,
    ) -> EmulatorHandle:
        """Start ``python -m airflow_provider_bc.testing.emulator`` and wait until it accepts connections.

        ``cli_options`` are the other command-line options by their Python name, e.g.
        ``latency=0.1, rate_limit=20, rate_window=10, max_concurrent=5, token_lifetime=60, bandwidth=2_000_000``.
        A ``state_dir`` an emulator used before gives its certificates, client applications and
        changed entries to this one (see :meth:`restart`).
        """
        owned = state_dir is None
        directory = Path(tempfile.mkdtemp(prefix="bc-emulator-")) if state_dir is None else Path(state_dir)
        command = [sys.executable, "-m", "airflow_provider_bc.testing.emulator", "--entries", str(entries)]
        command += ["--seed", str(seed), "--state-dir", str(directory)]
        for name, value in cli_options.items():
            command += [f"--{name.replace('_', '-')}", str(value)]
        process, info = _launch(command, directory, timeout, append_log=False)
        return cls(process, info, directory, owned, command, timeout)

    @property
    def running(self) -> bool:
        """Whether the emulator process is alive (False between :meth:`stop_process` and :meth:`start_process`)."""
        return self.process.poll() is None

    def stop_process(self) -> None:
        """End the emulator process, keeping its state directory; afterwards connections are refused.

        :meth:`start_process` brings it back on the same port.
        """
        self._session.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def start_process(self) -> None:
        """Start the emulator again after :meth:`stop_process`: same port, state directory, seed, entries
        and command-line options; waits until it accepts connections, then replaces :attr:`process`
        and :attr:`info` (only the ``pid`` changes).

        What carries over and what does not: see :meth:`restart`.
        """
        if self._command is None:
            raise EmulatorError("this handle did not start the emulator, so it cannot start it again")
        if self.running:
            raise EmulatorError(f"the emulator is still running (pid {self.process.pid}); stop_process() first")
        port = urlsplit(self.base_url).port
        command = list(self._command)
        while "--port" in command:  # the first start may have asked for port 0 (any free port)
            index = command.index("--port")
            del command[index : index + 2]
        command += ["--port", str(port)]
        self.process, self.info = _launch(command, self.state_dir, self._timeout, append_log=True)
        self._session = requests.Session()

    def restart(self) -> None:
        """End the emulator process and start it again on the same port, in place.

        The handle stays usable (a session-wide one too). Kept: base URL, CA bundle and server
        certificate, client applications (ids and secrets), the token-signing key (so tokens issued
        before the restart stay valid), revocations, the seeded data and the entries as changed by
        :meth:`insert_entry`, :meth:`modify_entry`, :meth:`post_cost_adjustment` and
        :meth:`commit_entries` in each environment (so nextLinks from before still work), and how far
        each company's entry numbers went. Lost: entries reserved and not committed (their numbers
        stay gaps, as after a rollback) and, as after :meth:`reset`, runtime :meth:`configure` changes
        (back to the command-line values), pending faults, counters and the request log; also the
        :meth:`issued_tokens` list, and connections open at the time.
        """
        self.stop_process()
        self.start_process()

    @contextlib.contextmanager
    def down(self) -> Iterator[EmulatorHandle]:
        """The emulator is unreachable (connection refused) inside the ``with``, and back after it.

        ``with emulator.down(): ...`` is :meth:`stop_process`, then :meth:`start_process` on leaving,
        also on an exception; see :meth:`restart` for what carries over.
        """
        self.stop_process()
        try:
            yield self
        finally:
            self.start_process()

    def stop(self) -> None:
        """End the emulator process (and remove its temporary directory)."""
        self.stop_process()
        if self._owned_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT``: the API origin (the connection's ``host``)."""
        return str(self.info["base_url"])

    @property
    def authority(self) -> str:
        """The Entra authority host; MSAL's authority is ``f"{authority}/{tenant_id}"``."""
        return str(self.info["authority"])

    @property
    def tenant_id(self) -> str:
        """The tenant GUID."""
        return str(self.info["tenant_id"])

    @property
    def tenant_domain(self) -> str:
        """The tenant's domain name, accepted wherever the tenant GUID is."""
        return str(self.info["tenant_domain"])

    @property
    def environment(self) -> str:
        """The default environment name (``production``; ``sandbox`` exists too, with data of its own:
        a copy of production's seeded data, the same companies and ids)."""
        return str(self.info["environment"])

    @property
    def client_id(self) -> str:
        """The client id of the application registered at start."""
        return str(self.info["client_id"])

    @property
    def client_secret(self) -> str:
        """The (fake) client secret of the application registered at start."""
        return str(self.info["client_secret"])

    @property
    def ca_bundle(self) -> str:
        """Path of the PEM file to pass as ``verify=``."""
        return str(self.info["ca_bundle"])

    @property
    def companies(self) -> list[dict[str, str]]:
        """The seeded companies as ``{"id", "name"}``; the first is the default."""
        return list(self.info["companies"])

    @property
    def default_company_id(self) -> str:
        """The id of ``CRONUS USA, Inc.``, which holds ``entries`` item ledger entries."""
        return str(self.info["default_company_id"])

    @property
    def documented_entry_id(self) -> str:
        """The id of entry 1 of the default company: Microsoft's documented example."""
        return str(self.info["documented_entry_id"])

    def api_url(self, tenant: bool = True, environment: str | None = None) -> str:
        """``{base}/v2.0/{tenant}/{environment}/api/v2.0`` (default: :attr:`environment`), or without
        the tenant segment."""
        middle = f"{self.tenant_id}/" if tenant else ""
        return f"{self.base_url}/v2.0/{middle}{environment or self.environment}/api/v2.0"

    def airflow_connection(self, **extra_overrides: Any) -> dict[str, Any]:
        """The Airflow connection in JSON form, with ``extra`` keys replaced or added."""
        connection: dict[str, Any] = json.loads(json.dumps(self.info["connection"]))
        connection["extra"].update(extra_overrides)
        return connection

    def airflow_connection_env(self, **extra_overrides: Any) -> str:
        """The connection as the JSON string for ``AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT``."""
        return json.dumps(self.airflow_connection(**extra_overrides))

    def _control(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body, default=_json_value)
        response = self._session.request(
            method,
            f"{self.base_url}/_emulator/{name}",
            data=data,
            headers={"Content-Type": "application/json"},
            verify=self.ca_bundle,
            timeout=30,
        )
        if not response.ok:
            raise EmulatorError(f"control API {method} {name}: {response.status_code} {response.text}")
        return response.json()

    def stats(self) -> dict[str, Any]:
        """Counters (``requests[route][status]``, the operations inside ``$batch`` requests as
        ``operations[route][status]``, ``tokens_issued``), the highest numbers of BC API requests
        processed at once (``max_concurrency``: holding one of the per-principal slots) and in flight
        at once (``max_in_flight``: from arrival to the answer's last byte, queued ones too), all
        principals together; the recent log (a ``$batch``'s record lists its ``operations``: id, method,
        path, route, status) and the configuration."""
        result: dict[str, Any] = self._control("GET", "stats")
        return result

    def recent_requests(self) -> list[dict[str, Any]]:
        """The most recent requests, oldest first (time, method, path, route, status, some headers)."""
        return list(self.stats()["recent_requests"])

    def issued_tokens(self) -> list[str]:
        """Every access token issued since the process started (most recent 10,000), e.g. to search logs
        for leaks."""
        return list(self._control("GET", "tokens")["tokens"])

    def reset(self) -> None:
        """Clear faults, counters and rate history; restore the start configuration; lift every
        revocation made by :meth:`revoke_tokens` (data, clients and tokens stay)."""
        self._control("POST", "reset")

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change ``latency``, ``rate_limit``, ``rate_window``, ``max_concurrent``, ``queue_size``,
        ``token_lifetime``, ``bandwidth`` (bytes per second of each API answer's body, each call on its
        own; 0: no limit) or ``on_premises_valid_audiences`` (``;``-separated: the on-premises instance
        then trusts Entra ID and accepts bearer tokens for them, as BC's ``ValidAudiences``) now; returns
        the whole configuration."""
        result: dict[str, Any] = self._control("POST", "config", options)
        return result

    def add_fault(
        self,
        kind_or_status: int | str,
        count: int = 1,
        route: str | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        retry_after: int | str | None = None,
        next_link: str | None = None,
        *,
        delay: float | None = None,
        content_type: str | None = None,
        location: str | None = None,
        value: Any = _NOT_GIVEN,
    ) -> None:
        """Make the next ``count`` matching requests fail (or misbehave) one of these ways.

        Replacing the answer:

        * status ``401``, ``403``, ``429``, ``500``, ``502``, ``503`` or ``504``: a BC error body (403:
          ``Authorization_InsufficientPermissions``), on the token endpoint an Entra one (403:
          ``access_denied``); ``Retry-After`` only if ``retry_after`` is given: whole seconds, or a
          string sent verbatim (e.g. an HTTP date).
        * ``"drop"``: the connection closed without an answer.
        * ``"invalid_json"``: 200, truncated JSON body. ``"html"``: a 502 HTML page; ``"html_200"``:
          the same page with status 200 (a captive portal, a proxy's sign-in page).
        * ``"empty"``: 200 with BC's headers and an empty body (Content-Length 0).
        * ``"redirect"``: 302 to ``location``, empty body.

        Changing the real answer:

        * ``"cut"``: the connection closed half-way through the body.
        * ``"next_link"``: the page's ``@odata.nextLink`` set to ``next_link``.
        * ``"value"``: a collection's ``value`` replaced by ``value``, any JSON value (``None`` sends
          ``null``; other answers pass unchanged).
        * ``"content_type"``: its Content-Type replaced by ``content_type`` (default
          ``text/html; charset=utf-8``).
        * ``"stall"``: nothing at all for ``delay`` seconds, then the answer (slower than a read timeout).
        * ``"slow_body"``: headers and half the body at once, the rest after ``delay`` seconds.

        A client giving up during a delay does no harm. Counters record ``cut`` and ``drop`` as status
        0 and the others with the status answered (``stall`` and ``slow_body`` when the answer is ready,
        before the delay, so also when the client gave up).
        ``route`` is a route name as in :meth:`stats`; ``path_contains`` matches path and query.
        ``delay``, ``content_type``, ``location`` and ``value`` are refused with other kinds.
        An operation inside a ``$batch`` is matched as the request it stands for, by the status,
        ``value`` and ``next_link`` kinds only (the others wait for a request of its own); a fault on the
        route ``$batch`` answers the whole batch (:mod:`.batch`)."""
        fault: dict[str, Any] = {"kind": str(kind_or_status), "count": count, "route": route, "method": method}
        fault |= {"path_contains": path_contains, "retry_after": retry_after, "next_link": next_link}
        fault |= {"delay": delay, "content_type": content_type, "location": location}
        if value is not _NOT_GIVEN:
            fault["value"] = value
        self._control("POST", "faults", fault)

    def revoke_tokens(self, client_id: str | None = None) -> str:
        """Refuse every access token issued so far to ``client_id`` (default: the start-up client) with
        401 ``Authentication_InvalidCredentials`` (``error_description="The token is revoked"``), as
        when a token is revoked while MSAL still caches it; tokens issued afterwards work. Lasts until
        :meth:`reset` (which the ``bc_emulator`` fixture calls before each test), across
        :meth:`restart`. Returns the client id."""
        result = self._control("POST", "revoke", {"client_id": client_id})
        return str(result["client_id"])

    def register_client(
        self, client_id: str | None = None, client_secret: str | None = None, *, certificate: str | None = None
    ) -> tuple[str, str]:
        """Register another client application (random id/secret unless given): ``(id, secret)``. A PEM
        ``certificate`` is added to its certificates: assertions signed with its key are accepted."""
        body = {"client_id": client_id, "client_secret": client_secret, "certificate": certificate}
        result = self._control("POST", "clients", body)
        return str(result["client_id"]), str(result["client_secret"])

    def add_federated_credential(self, client_id: str, issuer: str, subject: str, issuer_key: str) -> None:
        """Let ``client_id`` sign in with federated tokens of ``issuer`` for ``subject`` (workload
        identity), verified with ``issuer_key`` (PEM public key; see ``testing.credentials.FederatedIssuer``)."""
        body = {"client_id": client_id, "issuer": issuer, "subject": subject, "issuer_key": issuer_key}
        self._control("POST", "clients/federated", body)

    def remove_federated_credential(self, client_id: str, subject: str) -> None:
        """Delete ``client_id``'s federated credential for ``subject``: Entra refuses its tokens (AADSTS70021)."""
        self._control("POST", "clients/federated/remove", {"client_id": client_id, "subject": subject})

    def add_web_service_user(self, user: str | None = None, access_key: str | None = None) -> tuple[str, str]:
        """A Business Central on-premises user with a web service access key (random unless given):
        ``(user, key)``, for Basic auth on :meth:`on_premises_url`."""
        result = self._control("POST", "users", {"user": user, "access_key": access_key})
        return str(result["user"]), str(result["access_key"])

    def on_premises_url(self) -> str:
        """The on-premises style server instance URL, ``https://{host}:{port}/{instance}`` (the instance is
        the environment's name): the connection's host for ``auth_type`` ``basic``."""
        return f"{self.base_url}/{self.environment}"

    def assign_managed_identity(self, client_id: str | None = None, *, style: str = "app_service") -> dict[str, str]:
        """Give this host a managed identity: a user-assigned one (``client_id``: its client id or resource
        id) or, without one, the
        system-assigned one. Returns the environment variables that point MSAL at the emulator's
        endpoint of ``style``: ``app_service`` (``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER``) or ``imds``
        (``AZURE_POD_IDENTITY_AUTHORITY_HOST``, MSAL's override of ``http://169.254.169.254``)."""
        result = self._control("POST", "identities", {"client_id": client_id})
        if style == "imds":
            return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": f"{self.base_url}/_emulator/identity/imds"}
        if style != "app_service":
            raise ValueError(f"style must be 'app_service' or 'imds', not {style!r}")
        return {
            "IDENTITY_ENDPOINT": f"{self.base_url}/_emulator/identity/msi/token",
            "IDENTITY_HEADER": str(result["identity_header"]),
        }

    def insert_entry(
        self, company_id: str | None = None, *, environment: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Append an item ledger entry (the next number of the company's sequence, visible at once) to a
        company (default: CRONUS USA, Inc.) of an environment (default: :attr:`environment`).

        Decimals may be given as :class:`~decimal.Decimal` (kept exactly). Inserted entries survive
        :meth:`restart` (kept in the state directory)."""
        body = {"company_id": company_id, "environment": environment, "fields": fields}
        result: dict[str, Any] = self._control("POST", "entries", body)
        return result

    def modify_entry(
        self, company_id: str | None, entry_id: str, *, environment: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Change stored fields of an item ledger entry (e.g. ``description="x"``, ``quantity=3``) as a
        modification in BC does: ``lastModifiedDateTime`` becomes now (SystemModifiedAt) and the ETag
        changes. ``company_id`` None: CRONUS USA, Inc. Returns the entry as the API now sends it;
        survives :meth:`restart`."""
        body = {"company_id": company_id, "environment": environment, "entry_id": entry_id, "fields": fields}
        result: dict[str, Any] = self._control("POST", "entries/modify", body)
        return result

    def post_cost_adjustment(
        self,
        company_id: str | None,
        entry_id: str,
        amount: Decimal | int | float | str,
        *,
        environment: str | None = None,
    ) -> dict[str, Any]:
        """Add ``amount`` to an entry's ``costAmountActual``, as a cost adjustment posting a value entry:
        the FlowField changes, ``lastModifiedDateTime`` and the ETag do not (an incremental read on
        lastModifiedDateTime misses it). Returns the entry as the API now sends it; survives
        :meth:`restart`."""
        body = {"company_id": company_id, "environment": environment, "entry_id": entry_id, "amount": amount}
        result: dict[str, Any] = self._control("POST", "entries/cost_adjustment", body)
        return result

    def reserve_entries(
        self,
        count: int = 1,
        fields: dict[str, Any] | None = None,
        company_id: str | None = None,
        environment: str | None = None,
    ) -> list[dict[str, Any]]:
        """Insert ``count`` entries in a posting not yet committed: each takes the next entry number and
        now as ``lastModifiedDateTime`` (the insert's time, as BC's SystemModifiedAt), and no API read
        sees it until :meth:`commit_entries`. Returns them as the API will send them. A restart rolls
        them back (:meth:`rollback_entries`)."""
        body = {"company_id": company_id, "environment": environment, "count": count, "fields": fields or {}}
        return list(self._control("POST", "entries/reserve", body)["entries"])

    def commit_entries(
        self, entry_ids: list[str], company_id: str | None = None, environment: str | None = None
    ) -> list[dict[str, Any]]:
        """Make reserved entries visible exactly as reserved (number, ``lastModifiedDateTime``, ETag),
        e.g. after entries with higher numbers; returns them. They survive :meth:`restart`."""
        body = {"company_id": company_id, "environment": environment, "entry_ids": entry_ids}
        return list(self._control("POST", "entries/commit", body)["entries"])

    def rollback_entries(
        self, entry_ids: list[str], company_id: str | None = None, environment: str | None = None
    ) -> list[dict[str, Any]]:
        """Drop reserved entries, their numbers staying used (gaps); returns them as they were reserved."""
        body = {"company_id": company_id, "environment": environment, "entry_ids": entry_ids}
        return list(self._control("POST", "entries/rollback", body)["entries"])

    def skip_entry_numbers(self, count: int, company_id: str | None = None, environment: str | None = None) -> range:
        """Use up the next ``count`` entry numbers without an entry (gaps, as a rolled-back posting
        leaves); returns them."""
        body = {"company_id": company_id, "environment": environment, "count": count}
        first, last = self._control("POST", "entries/skip", body)["entry_numbers"]
        return range(first, last + 1)

    def token(self, client_id: str | None = None, secret: str | None = None, scope: str = BC_SCOPE) -> str:
        """An access token from the token endpoint via plain ``requests`` (not MSAL)."""
        response = self._session.post(
            f"{self.authority}/{self.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id or self.client_id,
                "client_secret": secret or self.client_secret,
                "scope": scope,
            },
            verify=self.ca_bundle,  # per request: Session.verify loses against REQUESTS_CA_BUNDLE
            timeout=30,
        )
        if not response.ok:
            raise EmulatorError(f"token request failed: {response.status_code} {response.text}")
        return str(response.json()["access_token"])
