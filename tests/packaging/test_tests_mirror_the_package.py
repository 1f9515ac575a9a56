"""The unit tests mirror the package's tree, and every module of the provider has tests that name it
(the emulator, the other side of the wire, is tested over HTTP by ``tests/emulator``)."""

from __future__ import annotations

import re

from tests.support import REPO

PACKAGE = REPO / "airflow_provider_bc"
TESTS = REPO / "tests"
#: tested through what they serve, not by name
NOT_NAMED = ("testing/emulator/",)


def provider_modules() -> list[str]:
    """Dotted names of the provider's modules (packages' ``__init__`` and the emulator left out)."""
    paths = (path.relative_to(REPO) for path in PACKAGE.rglob("*.py") if path.name != "__init__.py")
    return sorted(
        ".".join(path.with_suffix("").parts)
        for path in paths
        if not any(path.as_posix().startswith(f"airflow_provider_bc/{part}") for part in NOT_NAMED)
    )


def test_every_module_has_tests_that_name_it() -> None:
    tests = "\n".join(path.read_text() for path in TESTS.rglob("*.py"))
    unnamed = [module for module in provider_modules() if not re.search(rf"{re.escape(module)}\b", tests)]
    assert not unnamed, f"modules no test names: {unnamed}"


def test_unit_test_folders_are_package_folders() -> None:
    unit = TESTS / "unit"
    folders = [path.relative_to(unit) for path in unit.rglob("*") if path.is_dir() and path.name != "__pycache__"]
    strays = [str(folder) for folder in folders if not (PACKAGE / folder).is_dir()]
    assert not strays, f"tests/unit folders with no package folder of that name: {strays}"


def test_unit_test_files_name_a_module_of_their_folder() -> None:
    unit = TESTS / "unit"
    strays = []
    for test in unit.rglob("test_*.py"):
        folder = PACKAGE / test.parent.relative_to(unit)
        names = {path.stem for path in folder.glob("*.py")}
        stem = test.stem.removeprefix("test_")
        if not any(stem == name or stem.startswith(f"{name}_") for name in names):
            strays.append(str(test.relative_to(REPO)))
    assert not strays, f"unit tests named after no module of their folder: {strays}"
