"""The distributions as a user gets them: sdist and wheel built with the project's backend (the wheel from
the sdist, so the sdist is complete), ``twine check``, the wheel's files and entry points, and a fresh
venv with only the wheel (no ``[emulator]`` extra) and pytest: our pytest plugin loads only when asked,
and the emulator says which extra to install."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from airflow_provider_bc import __version__
from airflow_provider_bc.testing.emulator.extra import INSTALL_COMMAND
from tests.doc_blocks import blocks
from tests.support import REPO

UV = Path(sys.executable).with_name("uv")  # dev.py installs uv into .venv
PLUGIN = "airflow_provider_bc.testing.pytest_plugin"


def run(
    *command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist) of the working tree."""
    out = tmp_path_factory.mktemp("dist")
    built = run(UV, "build", "--quiet", "--out-dir", out, REPO)
    assert built.returncode == 0, built.stderr
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="module")
def constraints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pins of every package of this environment (which uv's cache holds), this provider's version included."""
    pins = run(UV, "pip", "freeze", "--exclude-editable", "--python", sys.executable)
    assert pins.returncode == 0, pins.stderr
    path = tmp_path_factory.mktemp("pins") / "constraints.txt"
    path.write_text(f"{pins.stdout}airflow-provider-business-central=={__version__}\n")
    return path


@pytest.fixture(scope="module")
def fresh_venv(dists: tuple[Path, Path], constraints: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a new venv holding the wheel, its dependencies and pytest, at this environment's versions."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    for command in (
        [UV, "venv", "--quiet", "--python", sys.executable, venv],
        [UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", "-c", constraints, dists[0], "pytest"],
    ):
        done = run(*command)
        assert done.returncode == 0, done.stderr
    return venv / "bin" / "python"


@pytest.fixture
def elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An empty folder and an environment without this session's Python, pytest and Airflow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "AIRFLOW", "VIRTUAL_ENV"))}
    return tmp_path, env


def test_twine_check_passes(dists: tuple[Path, Path]) -> None:
    checked = run(sys.executable, "-m", "twine", "check", "--strict", *dists)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2, checked.stdout


def test_wheel_holds_the_package_without_tests_demo_or_pytest_entry_point(dists: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(dists[0]) as wheel:
        names = set(wheel.namelist())
        (entry_points_file,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        entry_points = configparser.ConfigParser()
        entry_points.read_string(wheel.read(entry_points_file).decode())
    assert {name.split("/")[0] for name in names} == {"airflow_provider_bc", entry_points_file.split("/")[0]}
    assert not [name for name in names if "/tests/" in name or "dags_examples" in name]
    assert {"airflow_provider_bc/py.typed", f"{PLUGIN.replace('.', '/')}.py"} <= names
    assert "airflow_provider_bc/testing/emulator/__main__.py" in names
    assert "airflow_provider_bc/testing/demo.py" not in names  # it runs the checkout's dags_examples/
    assert entry_points.sections() == ["apache_airflow_provider"]  # no pytest11
    assert dict(entry_points["apache_airflow_provider"]) == {
        "provider_info": "airflow_provider_bc.get_provider_info:get_provider_info"
    }


def test_pytest_in_an_unrelated_folder_loads_no_plugin_of_ours(
    fresh_venv: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    folder, env = elsewhere
    collected = run(fresh_venv, "-m", "pytest", "--co", "--trace-config", "-p", "no:cacheprovider", cwd=folder, env=env)
    assert collected.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, collected.stdout + collected.stderr
    assert "PLUGIN registered: <module '_pytest.python'" in collected.stdout  # the listing is there
    assert "airflow_provider_bc" not in collected.stdout + collected.stderr


def test_the_plugin_asked_for_without_the_extra_names_it(
    fresh_venv: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    folder, env = elsewhere
    collected = run(fresh_venv, "-m", "pytest", "--co", "-p", PLUGIN, "-p", "no:cacheprovider", cwd=folder, env=env)
    assert collected.returncode != 0
    assert f'Error while loading plugin "{PLUGIN}"' in collected.stderr
    assert f"needs trustme (the [emulator] extra): {INSTALL_COMMAND}" in collected.stderr


def test_the_emulator_without_the_extra_says_which_to_install(
    fresh_venv: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    folder, env = elsewhere
    started = run(fresh_venv, "-m", "airflow_provider_bc.testing.emulator", cwd=folder, env=env)
    assert started.returncode == 2
    # Airflow itself brings uvicorn and PyJWT
    assert started.stderr.splitlines() == [
        f"error: the Business Central emulator needs trustme (the [emulator] extra): {INSTALL_COMMAND}"
    ]


def test_the_readme_install_block_installs_from_a_clone_then_builds_a_wheel(constraints: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    copied = run("git", "clone", "--quiet", "--no-hardlinks", REPO, clone)
    assert copied.returncode == 0, copied.stderr
    for changed in run("git", "ls-files", "--modified", "--others", "--exclude-standard", cwd=REPO).stdout.split():
        (clone / changed).parent.mkdir(parents=True, exist_ok=True)  # the working tree, not only HEAD
        shutil.copy2(REPO / changed, clone / changed)
    venv = tmp_path / "venv"
    assert run(UV, "venv", "--quiet", "--seed", "--python", sys.executable, venv).returncode == 0
    python = venv / "bin" / "python"
    # the README's lines as written, in the clone: `pip install` through uv at this environment's versions
    # (the same resolution, much faster), any other pip command by the venv's own pip
    pip = (
        f'pip() {{ if [ "$1" = install ]; then shift; "{UV}" pip install --quiet --python "{python}" '
        f'-c "{constraints}" "$@"; else "{python}" -m pip --quiet "$@"; fi; }}\n'
    )
    installed = run("bash", "-euo", "pipefail", "-c", pip + blocks("install")[0], cwd=clone)
    assert installed.returncode == 0, installed.stderr
    probe = "import airflow_provider_bc, trustme, uvicorn, jwt; print(airflow_provider_bc.__version__)"
    imported = run(python, "-c", probe)
    assert imported.returncode == 0 and imported.stdout.strip() == __version__, imported.stderr
    (wheel,) = (clone / "dist").glob("*.whl")
    assert wheel.name == f"airflow_provider_business_central-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        assert "airflow_provider_bc/hooks/business_central.py" in archive.namelist()
