#!/usr/bin/env python3
"""The README's two commands: ``python3 dev.py demo`` and ``python3 dev.py test``; and more.

Each creates ``.venv`` in this folder (if missing or out of date) and installs the project with
its test and emulator extras into it; nothing is installed outside the folder.

    python3 dev.py demo    run the example DAGs against the bundled Business Central emulator
    python3 dev.py test    ruff check, ruff format --check, mypy, lint-imports (the layers' contracts in
                           pyproject.toml), the docs build, then the whole pytest suite (the newest Airflow 3),
                           then the legs on the other Airflows (below): Airflow 2.11 and 3.0, side by side;
                           fails if any step fails
    python3 dev.py test ARGS...
                           the checks, then pytest ARGS (the newest Airflow 3 only), e.g. ``tests/hook -k secret``
    python3 dev.py test-airflow2 [ARGS...]
                           only the Airflow 2.11 leg: pytest ARGS (default: AIRFLOW_2_TESTS) in ``.venv-airflow2``
    python3 dev.py test-airflow3.0 [ARGS...]
                           only the Airflow 3.0 leg: pytest ARGS (default: AIRFLOW_3_0_TESTS) in ``.venv-airflow3.0``
    python3 dev.py docs    build the documentation site (docs/, Sphinx) into docs/_build/html, warnings as errors
    python3 dev.py bench   run every script in benchmarks/
    python3 dev.py mutate  mutation testing of airflow_provider_bc/client (mutmut; not part of test or CI):
                           a fresh ``mutmut run`` in mutants/, then per module the mutants, how many
                           the tests killed, survived or ended otherwise (timeout, no tests...) and
                           the share killed; about an hour on 2 cores
    python3 dev.py mutate NAME...
                           re-test only the mutants NAME (mutmut names or globs, e.g.
                           'airflow_provider_bc.client.http.retry.*') against the current tests, keeping the
                           other results of the last run; then the same table

``mutmut results`` lists the mutants that were not killed, ``mutmut show NAME`` shows one
(both from this folder, with .venv's mutmut). Settings: ``[tool.mutmut]`` in pyproject.toml.

Every Airflow line the package supports is proven on: the newest Airflow (``.venv``, the whole suite),
and a leg per other line (LEGS), each in a venv of its own made by .venv's uv with the Python running
dev.py (CI's 3.11) and kept up to date like ``.venv``: the project with its test extra and the leg's
pins, that line's latest release; uv resolves common-compat and the other providers to their latest
releases that still support it.

- ``.venv-airflow2``, Airflow 2.11.x (AIRFLOW_2_PINS): AIRFLOW_2_TESTS;
- ``.venv-airflow3.0``, Airflow 3.0.x, the lowest Airflow 3 (AIRFLOW_3_0_PINS, with what Airflow 3.0
  needs pinned beside it): AIRFLOW_3_0_TESTS.

Both legs run the hook (and the provider's metadata, checked against that Airflow's own schema), the
operators, the sensors in all three modes (poke, reschedule, deferrable), the entity trigger (deferred
sensors) and the example DAGs with ``dag.test()`` (the transfer and the reconciliation operator among
them); the Airflow 2 leg also the extraction engine's runs (S3 by moto, OpenLineage facets) and the
reconciliation against PostgreSQL and SQLite, the 3.0 leg the new-entities trigger on its own poll (the
shared poll needs Airflow 3.3's shared streams). Left to the newest Airflow alone: the client, emulator
and unit tests (no Airflow in them), the demo (the README's ``dev.py demo``, run with .venv), the
event-driven DAG runs on a real scheduler and triggerer (Airflow 3.3's asset state store and shared
streams), and the packaging and browser tests (the wheel and Airflow 3's UI). A test file for
Airflow-facing code goes into each leg's tests too.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import venv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BIN_FOLDER = "Scripts" if os.name == "nt" else "bin"
VENV = ROOT / ".venv"
BIN = VENV / BIN_FOLDER
PYTHON = BIN / "python"

DOCS_HTML = ROOT / "docs" / "_build" / "html"


@dataclass(frozen=True)
class Leg:
    """A CI leg on another Airflow line: ``python3 dev.py <command> [ARGS]`` runs pytest ARGS (default: the
    leg's ``tests``) in the venv ``folder``, which holds the project with its test extra and ``pins``
    (beside the project's own requirements; uv resolves the rest: common-compat and the other
    providers, their latest releases that still support that Airflow). ``dev.py test`` runs every leg."""

    command: str
    folder: Path
    pins: tuple[str, ...]
    tests: tuple[str, ...]


#: what both legs run: the hook, the operators, the sensor in poke, reschedule and deferrable mode,
#: the triggers, the example DAGs with ``dag.test()``, the provider's metadata and the secret scan
AIRFLOW_FACING_TESTS = (
    "tests/hook",
    "tests/tasks",
    "tests/faults/test_task_arguments.py",
    "tests/dag_runs/test_sensor_modes.py",
    "tests/dag_runs/test_set_sensor_modes.py",
    "tests/dag_runs/test_example_dags.py",
    "tests/dag_runs/test_dag_file_imports.py",
    "tests/test_secret_scan.py",
)
AIRFLOW_2_PINS = ("apache-airflow>=2.11,<2.12",)
#: with the extraction (S3 by moto, OpenLineage facets) and the reconciliation (PostgreSQL, SQLite)
AIRFLOW_2_TESTS = (*AIRFLOW_FACING_TESTS, "tests/extraction", "tests/reconciliation")
#: Airflow 3.0 caps none of these, but its latest releases break it (its constraints file pins the versions
#: of its time; later Airflows adapted to the new ones): the FAB provider, as Airflow's image has it (3.0's UI
#: gets a provider's extra connection fields only through FAB's wtforms: apache/airflow#55841);
#: FastAPI < 0.132 (0.132 rejects a JSON body without Content-Type, which 3.0's task SDK sends: every
#: task fails); universal-pathlib < 0.3 (3.0's ObjectStoragePath refuses every path with 0.3)
AIRFLOW_3_0_PINS = ("apache-airflow[fab]>=3.0,<3.1", "fastapi<0.132", "universal-pathlib<0.3")
#: with the extraction example DAGs and the new-entities trigger on its own poll (shared streams are 3.3's);
#: the transfer and the reconciliation operator run in the reconciliation example DAG
AIRFLOW_3_0_TESTS = (
    *AIRFLOW_FACING_TESTS,
    "tests/extraction/test_extract_dags.py",
    "tests/assets/test_new_entities_trigger.py",
)
#: in the order ``dev.py test`` runs them, after the newest Airflow's whole suite
LEGS = (
    Leg("test-airflow2", ROOT / ".venv-airflow2", AIRFLOW_2_PINS, AIRFLOW_2_TESTS),
    Leg("test-airflow3.0", ROOT / ".venv-airflow3.0", AIRFLOW_3_0_PINS, AIRFLOW_3_0_TESTS),
)


def run(*args: str | Path) -> None:
    """Run a command in the repo folder; stop with its exit code when it fails."""
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT)  # noqa: S603 (our own fixed commands)
    if code:
        sys.exit(code)


def ensure_venv(folder: Path = VENV, *pins: str) -> Path:
    """Create the venv ``folder`` (.venv, or a leg's venv with uv) and install the project with its
    test extra and ``pins`` into it, unless pyproject.toml and ``pins`` are unchanged since; its python."""
    python = folder / BIN_FOLDER / "python"
    stamp = folder / ".installed-for"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + "\n".join(pins).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    if folder == VENV:  # uv comes from here
        if not python.exists():
            venv.EnvBuilder(with_pip=True).create(VENV)
        run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv>=0.5")
    elif not python.exists():
        # the Python running dev.py (CI's 3.11: every Airflow from 2.11 to the newest supports it)
        run(BIN / "uv", "venv", "--quiet", "--no-python-downloads", "--python", sys.executable, folder)
    run(BIN / "uv", "pip", "install", "--quiet", "--python", python, "-e", ".[test]", *pins)
    stamp.write_text(wanted)
    return python


def leg_command(leg: Leg, args: list[str]) -> list[str]:
    """The leg's pytest command: ``args`` (default: the leg's tests) in its venv, made or brought up to date."""
    python = ensure_venv(leg.folder, *leg.pins)
    return [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *(args or leg.tests)]


def run_legs_side_by_side(legs: tuple[Leg, ...]) -> None:
    """Every leg's tests at once (they mostly wait on the emulator and Airflow: side by side they take about
    as long as the longest alone), each into a log of its own printed whole when it ends; stop with the
    first failing leg's exit code once all ended."""
    commands = {leg.command: leg_command(leg, []) for leg in legs}  # venvs made one after the other
    failed = []
    with contextlib.ExitStack() as logs:
        started = {}
        for name, command in commands.items():
            print("+", " ".join(command), f"(the {name} leg, side by side)", flush=True)
            log = logs.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))
            started[name] = (subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), log)  # noqa: S603
        for name, (process, log) in started.items():
            code = process.wait()
            log.seek(0)
            print(f"\n===== {name} (exit {code}) =====\n{log.read()}", flush=True)
            failed += [code] if code else []
    if failed:
        sys.exit(failed[0])


def build_docs() -> None:
    """The documentation site from docs/ into docs/_build/html; any warning fails (no link checks: CI is offline)."""
    run(BIN / "sphinx-build", "-W", "--keep-going", "-q", "-b", "html", "docs", DOCS_HTML)


def mutate(names: list[str]) -> None:
    """``mutmut run`` (fresh unless mutant ``names`` are given), then the share of mutants killed per module."""
    if os.name == "nt":
        sys.exit("mutmut runs on Linux and macOS (on Windows: in WSL).")
    if not names:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # cached verdicts would ignore tests added since
    # The fault tests mostly wait (backoffs, timeouts, the emulator): three mutants per core keep the CPUs
    # busy without slowing any test past its timeouts (mutmut's default is one per core).
    children = 3 * (os.cpu_count() or 1)
    command = [str(BIN / "mutmut"), "run", "--max-children", str(children), *names]
    print("+", " ".join(command), flush=True)
    # In its own process group: when a mutant's tests run out of time, mutmut kills them without their
    # teardown, and the emulator subprocess their session started lives on; such orphans are ended as
    # they appear, and whatever is left of the group at the end.
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)  # noqa: S603 (our own fixed command)
    try:
        while True:
            try:
                code = process.wait(timeout=30)
                break
            except subprocess.TimeoutExpired:
                for orphan in orphans(process.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(orphan, signal.SIGTERM)
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)  # mutmut stops its workers and keeps the results so far
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = 130
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    print(mutation_table())
    if code:
        sys.exit(code)


def orphans(group: int) -> list[int]:
    """The live processes of process group ``group`` whose parent is not in it (Linux; elsewhere none)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            state, parent, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]  # after "pid (name)"
            if int(pgrp) == group and state != "Z":
                parents[int(stat.parent.name)] = int(parent)
    return [pid for pid, parent in parents.items() if pid != group and parent not in parents]


def mutation_table() -> str:
    """Per module of the last run: mutants, killed, survived, the other states, and the share killed
    (killed / mutants: a timeout or a mutant no test reached counts as not killed)."""
    listing = subprocess.run(  # noqa: S603 (our own fixed command)
        [str(BIN / "mutmut"), "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=True,
    ).stdout
    statuses: dict[str, Counter[str]] = {}
    for line in listing.splitlines():  # "    <module>.<function>__mutmut_<n>: <status>"
        name, _, status = line.strip().rpartition(": ")
        if "__mutmut_" in name:
            statuses.setdefault(name.rsplit(".", 1)[0], Counter())[status] += 1
    if not statuses:
        return "No mutmut results (mutants/ is missing or empty)."
    rows = [("module", "mutants", "killed", "survived", "other", "% killed")]
    for module, counts in [*sorted(statuses.items()), ("total", sum(statuses.values(), Counter()))]:
        total, killed, survived = sum(counts.values()), counts["killed"], counts["survived"]
        other = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s not in {"killed", "survived"}) or "-"
        rows.append((module, str(total), str(killed), str(survived), other, f"{100 * killed / total:.1f}"))
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    numbers = {1, 2, 3, 5}  # right-aligned columns
    lines = [
        "  ".join(
            cell.rjust(width) if index in numbers else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    rule = "-" * max(len(line) for line in lines)
    return "\n".join([lines[0], rule, *lines[1:-1], rule, lines[-1]])


def main() -> None:
    if sys.version_info < (3, 11):  # dev.py may be started by an older python3
        sys.exit("Python 3.11 or newer is needed (pyproject.toml's requires-python).")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    legs = {leg.command: leg for leg in LEGS}
    if command not in {"demo", "test", "docs", "bench", "mutate", *legs}:
        sys.exit(__doc__)
    ensure_venv()
    if command == "demo":
        run(PYTHON, "-m", "airflow_provider_bc.testing.demo")
    elif command == "test":
        run(BIN / "ruff", "check", ".")
        run(BIN / "ruff", "format", "--check", ".")
        run(BIN / "mypy", "airflow_provider_bc")
        run(BIN / "lint-imports", "--no-cache")
        build_docs()
        run(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *sys.argv[2:])
        if not sys.argv[2:]:
            run_legs_side_by_side(LEGS)
    elif command in legs:
        run(*leg_command(legs[command], sys.argv[2:]))
    elif command == "docs":
        build_docs()
    elif command == "mutate":
        mutate(sys.argv[2:])
    else:
        for script in sorted((ROOT / "benchmarks").glob("*.py")):
            run(PYTHON, script)


if __name__ == "__main__":
    main()
