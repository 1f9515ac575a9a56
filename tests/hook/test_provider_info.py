"""The provider's metadata (``airflow_provider_bc.get_provider_info``) as the running Airflow reads it: valid
against that Airflow's own schema, listing every hook, operator, sensor, trigger and transfer module of the
package, and naming how-to pages that are files of the repository. Run by every leg (Airflow 2.11, 3.0,
the newest): each Airflow ships its own schema."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from importlib.resources import files
from types import ModuleType
from typing import Any

import jsonschema
import pytest

import airflow_provider_bc
from airflow_provider_bc.get_provider_info import get_provider_info
from tests.support import REPO

#: the folders of the package whose modules Airflow is told about, and the base class a module's public
#: class must derive from to be listed (a ``sensors`` module: from BaseSensorOperator, also a BaseOperator)
KINDS = ("hooks", "operators", "sensors", "triggers", "transfers")


def _bases() -> dict[str, type]:
    from airflow.providers.common.compat.sdk import BaseHook, BaseOperator, BaseSensorOperator
    from airflow.triggers.base import BaseTrigger

    return {
        "hooks": BaseHook,
        "operators": BaseOperator,
        "sensors": BaseSensorOperator,
        "triggers": BaseTrigger,
        "transfers": BaseOperator,
    }


def _modules(kind: str) -> list[ModuleType]:
    package = importlib.import_module(f"airflow_provider_bc.{kind}")
    return [
        importlib.import_module(info.name)
        for info in pkgutil.iter_modules(package.__path__, prefix=f"{package.__name__}.")
        if not info.ispkg
    ]


def _public_classes(module: ModuleType, base: type) -> list[str]:
    """The public classes ``module`` defines (not imports) that derive from ``base``."""
    return sorted(
        name
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and value.__module__ == module.__name__
        and not name.startswith("_")
        and issubclass(value, base)
    )


def _listed(info: dict[str, Any], kind: str) -> list[str]:
    if kind == "transfers":
        return [entry["python-module"] for entry in info.get(kind, [])]
    return [module for entry in info.get(kind, []) for module in entry["python-modules"]]


def _how_to_guides(info: dict[str, Any]) -> list[str]:
    guides = [guide for entry in info["integrations"] for guide in entry.get("how-to-guide", [])]
    return guides + [entry["how-to-guide"] for entry in info["transfers"] if "how-to-guide" in entry]


def test_the_provider_info_is_valid_against_this_airflow_s_own_schema() -> None:
    """Airflow validates ``get_provider_info()`` with this schema when it discovers providers; an invalid one
    is not loaded (nor are its hooks and connection type)."""
    schema = json.loads((files("airflow") / "provider_info.schema.json").read_text(encoding="utf-8"))
    info = get_provider_info()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(info)]
    assert not errors, errors
    # the schema knows these keys (in 2.11 only some of them): an unknown key would pass unchecked
    known = set(schema["properties"])
    assert {"package-name", "name", "description", "connection-types", "transfers", "triggers"} <= known
    # the package Airflow matched this entry point to (pyproject's name) is the one the info names
    assert info["package-name"] == "airflow-provider-business-central"
    assert info["versions"] == [airflow_provider_bc.__version__]


def test_the_schema_rejects_what_it_does_not_allow() -> None:
    """The validation above can fail: a transfer with a key the schema forbids, or no python-module."""
    schema = json.loads((files("airflow") / "provider_info.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    info = get_provider_info()
    (transfer,) = info["transfers"]
    for broken in ({**transfer, "how-to-guides": ["/docs/howto/extract.md"]}, {**transfer, "python-module": 1}):
        assert not validator.is_valid({**info, "transfers": [broken]}), broken
    (trigger,) = info["triggers"]
    assert not validator.is_valid({**info, "triggers": [{**trigger, "how-to-guide": ["/docs/howto/wait.md"]}]})


@pytest.mark.parametrize("kind", KINDS)
def test_every_module_with_a_hook_operator_sensor_trigger_or_transfer_is_listed(kind: str) -> None:
    info = get_provider_info()
    base = _bases()[kind]
    defining = {module.__name__: _public_classes(module, base) for module in _modules(kind)}
    defining = {name: classes for name, classes in defining.items() if classes}
    assert defining, f"no module of airflow_provider_bc.{kind} defines a {base.__name__}"
    listed = _listed(info, kind)
    assert sorted(listed) == sorted(defining), f"{kind}: listed {listed}, defining {defining}"
    assert len(set(listed)) == len(listed)  # each once


def test_the_connection_type_names_its_hook() -> None:
    from airflow.providers.common.compat.sdk import BaseHook

    from airflow_provider_bc.hooks.business_central import BusinessCentralHook

    (connection,) = get_provider_info()["connection-types"]
    module, _, name = connection["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), name)
    assert hook is BusinessCentralHook and issubclass(hook, BaseHook)
    assert connection["connection-type"] == hook.conn_type == "business_central"
    assert connection["hook-name"] == hook.hook_name
    assert module in _listed(get_provider_info(), "hooks")


def test_every_how_to_guide_is_a_page_of_the_docs_site() -> None:
    """Paths as Airflow's providers write them (from the repository's root, ``/docs/`` first), each a file
    of docs/; the connection's page and one per kind of task."""
    info = get_provider_info()
    guides = _how_to_guides(info)
    assert len(set(guides)) == len(guides)
    missing = [guide for guide in guides if not (guide.startswith("/docs/") and (REPO / guide.lstrip("/")).is_file())]
    assert not missing, f"how-to guides that are no file of docs/: {missing}"
    assert "/docs/connection.md" in guides
    assert info["transfers"][0]["how-to-guide"] == "/docs/howto/extract.md"
    assert {
        "/docs/howto/hook.md",
        "/docs/howto/fetch.md",
        "/docs/howto/wait.md",
        "/docs/howto/many-entries.md",
        "/docs/howto/reconcile.md",
        "/docs/howto/event-driven.md",
    } <= set(guides)
