"""Without a package of the ``[emulator]`` extra, the emulator, the demo and the pytest plugin say which
extra to install (the packages are hidden: ``sys.modules[name] = None`` makes importing them fail)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from airflow_provider_bc.testing.emulator.extra import INSTALL_COMMAND, MissingExtraError

# runs module argv[2] as ``python -m`` does, with the module argv[1] made impossible to import
RUN_WITHOUT = """
import runpy, sys
hidden, module = sys.argv[1:]
sys.argv[1:] = []
sys.modules[hidden] = None
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""
EXTRA = [("uvicorn", "uvicorn"), ("trustme", "trustme"), ("jwt", "PyJWT")]  # module, package


@pytest.mark.parametrize("entry_point", ["airflow_provider_bc.testing.emulator", "airflow_provider_bc.testing.demo"])
@pytest.mark.parametrize(("module", "package"), EXTRA)
def test_python_m_names_the_extra_in_one_line(entry_point: str, module: str, package: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT, module, entry_point],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines() == [
        f"error: the Business Central emulator needs {package} (the [emulator] extra): {INSTALL_COMMAND}"
    ]
    assert out.stdout == ""


def test_importing_the_pytest_plugin_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)
    monkeypatch.delitem(sys.modules, "airflow_provider_bc.testing.pytest_plugin")  # import it afresh
    with pytest.raises(MissingExtraError, match=r"needs trustme \(the \[emulator\] extra\): pip install "):
        importlib.import_module("airflow_provider_bc.testing.pytest_plugin")
