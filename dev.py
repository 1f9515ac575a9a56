#!/usr/bin/env python3
"""The README's two commands: ``python3 dev.py demo`` and ``python3 dev.py test``.

Each creates ``.venv`` in this folder (if missing or out of date) and installs the project with
its test and emulator extras into it; nothing is installed outside the folder.

    python3 dev.py demo    run the example DAGs against the bundled Business Central emulator
    python3 dev.py test    ruff check, ruff format --check, mypy, then the whole pytest suite
    python3 dev.py bench   run every script in benchmarks/
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".installed-for"


def run(*args: str | Path) -> None:
    """Run a command in the repo folder; stop with its exit code when it fails."""
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT)  # noqa: S603 (our own fixed commands)
    if code:
        sys.exit(code)


def ensure_venv() -> None:
    """Create .venv and install the project into it unless pyproject.toml is unchanged since."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv>=0.5")
    run(BIN / "uv", "pip", "install", "--quiet", "--python", PYTHON, "-e", ".[test]")
    STAMP.write_text(wanted)


def main() -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 (dev.py may be started by an older python3)
        sys.exit("Python 3.10 or newer is needed (3.11 recommended).")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in {"demo", "test", "bench"}:
        sys.exit(__doc__)
    ensure_venv()
    if command == "demo":
        run(PYTHON, "-m", "airflow_provider_bc.testing.demo")
    elif command == "test":
        run(BIN / "ruff", "check", ".")
        run(BIN / "ruff", "format", "--check", ".")
        run(BIN / "mypy", "airflow_provider_bc")
        run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *sys.argv[2:])
    else:
        for script in sorted((ROOT / "benchmarks").glob("*.py")):
            run(PYTHON, script)


if __name__ == "__main__":
    main()
