"""Client-side handle: :class:`EmulatorHandle` starts the emulator as a subprocess and ends it (here);
its connection details (:mod:`.handle_info`) and control API calls (the ``handle_*`` modules, by
concern) come from the classes it is composed of."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests

from .handle_entries import EntryCalls
from .handle_faults import FaultCalls
from .handle_identities import IdentityCalls
from .handle_launch import EmulatorError, emulator_command, launch, on_port
from .handle_runtime import RuntimeCalls

__all__ = ["EmulatorError", "EmulatorHandle"]


@dataclass(eq=False, repr=False)
class EmulatorHandle(RuntimeCalls, FaultCalls, IdentityCalls, EntryCalls):
    """A running emulator subprocess: its connection details and control API.

    Use :meth:`start` (also as a context manager); :meth:`stop` ends the process. :meth:`restart`,
    :meth:`down`, :meth:`stop_process` and :meth:`start_process` end and start it again in place.
    """

    process: subprocess.Popen[bytes]
    #: the emulator's ready file: its connection details
    info: dict[str, Any]
    #: certificates, client applications, changed entries and the log (``emulator.log``)
    state_dir: Path
    #: whether :meth:`stop` removes :attr:`state_dir` (a temporary directory :meth:`start` made)
    owned: bool
    #: the command that started the emulator, to start it again (None: this handle did not start it)
    command: list[str] | None = None
    #: seconds to wait for a start to be ready
    timeout: float = 120.0
    _session: requests.Session = field(default_factory=requests.Session, init=False)

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
        command = emulator_command(entries, seed, directory, cli_options)
        process, info = launch(command, directory, timeout, append_log=False)
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
        if self.command is None:
            raise EmulatorError("this handle did not start the emulator, so it cannot start it again")
        if self.running:
            raise EmulatorError(f"the emulator is still running (pid {self.process.pid}); stop_process() first")
        command = on_port(self.command, urlsplit(self.base_url).port)
        self.process, self.info = launch(command, self.state_dir, self.timeout, append_log=True)
        self._session = requests.Session()

    def restart(self) -> None:
        """End the emulator process and start it again on the same port, in place.

        The handle stays usable (a session-wide one too). Kept: base URL, CA bundle and server
        certificate, client applications (ids and secrets), the token-signing key (so tokens issued
        before the restart stay valid), revocations, the seeded data and the entries as changed by
        :meth:`insert_entry`, :meth:`modify_entry`, :meth:`delete_entry`, :meth:`post_cost_adjustment`
        and :meth:`commit_entries` in each environment (so nextLinks from before still work), and how
        far each company's entry numbers went. Lost: entries reserved and not committed (their numbers
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
        if self.owned:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
