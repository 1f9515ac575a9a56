"""Launching the emulator subprocess for a handle: the command line, the wait for its ready file, and
:class:`EmulatorError` when it does not come up."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


class EmulatorError(RuntimeError):
    """The emulator did not start, or a control API call failed."""


def emulator_command(entries: int, seed: int, state_dir: Path, cli_options: dict[str, Any]) -> list[str]:
    """``python -m airflow_provider_bc.testing.emulator`` with these options (``cli_options`` by their
    Python name, e.g. ``rate_limit=20``: ``--rate-limit 20``)."""
    command = [sys.executable, "-m", "airflow_provider_bc.testing.emulator", "--entries", str(entries)]
    command += ["--seed", str(seed), "--state-dir", str(state_dir)]
    for name, value in cli_options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    return command


def on_port(command: list[str], port: int | None) -> list[str]:
    """``command`` listening on ``port``, whatever port it asked for (the first start may have asked for
    port 0: any free port)."""
    command = list(command)
    while "--port" in command:
        index = command.index("--port")
        del command[index : index + 2]
    return [*command, "--port", str(port)]


def _tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def launch(
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
