"""The layers' import contracts (``[tool.importlinter]`` in pyproject.toml, run by ``dev.py test``)
hold for the package, and each one breaks when an import it forbids is added to a copy of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LAYERS = "Tasks above the hook and the extraction engine, above the client"
NO_AIRFLOW = "The client and the extraction and reconciliation engines import nothing from Airflow"
EMULATOR = "The emulator imports nothing from the provider (the other side of the wire)"
CLIENT = "Inside the client: the clients, above $batch and tokens, above HTTP, above OData, above the shared vocabulary"


def lint_copy(tmp_path: Path, module: str | None = None, line: str = "") -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over a copy of the package with ``line`` added to ``module`` (a path in it)."""
    shutil.copytree(
        REPO / "airflow_provider_bc", tmp_path / "airflow_provider_bc", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    if module is not None:
        target = tmp_path / "airflow_provider_bc" / module
        target.write_text(target.read_text() + f"\n{line}\n")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},  # the copy, not the installed package
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_contract_is_kept_by_the_package(tmp_path: Path) -> None:
    done = lint_copy(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    kept = " ".join(done.stdout.split())  # lint-imports wraps long names
    assert all(f"{name} KEPT" in kept for name in (LAYERS, NO_AIRFLOW, EMULATOR, CLIENT))


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("client/odata/filters.py", "import airflow_provider_bc.hooks.business_central", LAYERS),
        ("hooks/business_central.py", "import airflow_provider_bc.operators.entities", LAYERS),
        ("hooks/business_central.py", "import airflow_provider_bc.tasks.outcomes", LAYERS),
        ("tasks/outcomes.py", "import airflow_provider_bc.sensors.entities", LAYERS),
        ("extraction/cursors.py", "import airflow_provider_bc.transfers.business_central_to_object_storage", LAYERS),
        ("client/http/retry.py", "import airflow.models", NO_AIRFLOW),
        ("reconciliation/compare.py", "import airflow.models", NO_AIRFLOW),
        ("reconciliation/compare.py", "import airflow_provider_bc.extraction.run", LAYERS),
        ("extraction/cursors.py", "from airflow.providers.common.compat.sdk import ObjectStoragePath", NO_AIRFLOW),
        ("testing/emulator/store.py", "import airflow_provider_bc.client.odata", EMULATOR),
        ("testing/emulator/store.py", "import airflow_provider_bc.tasks.waiting", EMULATOR),
        ("client/http/retry.py", "import airflow_provider_bc.client.auth.tokens", CLIENT),
        ("client/batch/reads.py", "import airflow_provider_bc.client.auth.tokens", CLIENT),
        ("client/odata/urls.py", "import airflow_provider_bc.client.http.exchange", CLIENT),
        ("client/values.py", "import airflow_provider_bc.client.settings", CLIENT),
        ("client/base.py", "import airflow_provider_bc.client.client", CLIENT),
    ],
)
def test_an_import_a_contract_forbids_breaks_it(tmp_path: Path, module: str, line: str, contract: str) -> None:
    done = lint_copy(tmp_path, module, line)
    assert done.returncode == 1 and f"{contract} BROKEN" in " ".join(done.stdout.split()), done.stdout[-3000:]


def test_no_module_of_the_package_imports_itself_back_through_others() -> None:
    import grimp

    graph = grimp.build_graph("airflow_provider_bc", cache_dir=None)  # TYPE_CHECKING imports included
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    for module in sorted(imports):
        for imported in sorted(imports[module]):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            assert chain is None, f"an import circle: {module} -> {' -> '.join(chain)}"
