"""pytest fixtures for the Business Central emulator; a plugin to enable, not loaded by itself:
``pytest -p airflow_provider_bc.testing.pytest_plugin``, or in the root ``conftest.py``
``pytest_plugins = ["airflow_provider_bc.testing.pytest_plugin"]``. Importing it without the
``[emulator]`` extra fails, naming the extra.

``bc_emulator_session`` starts one emulator subprocess per test session (size: the ini option
``bc_emulator_entries``); ``bc_emulator`` is the same emulator, reset before each test so faults,
configuration and counters never leak from one test into another.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from airflow_provider_bc.testing.emulator.extra import require_emulator_extra

if TYPE_CHECKING:
    from airflow_provider_bc.testing.emulator import EmulatorHandle

require_emulator_extra()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``bc_emulator_entries`` ini option."""
    parser.addini(
        "bc_emulator_entries",
        "item ledger entries of the default company in the session's Business Central emulator",
        default="1000",
    )


@pytest.fixture(scope="session")
def bc_emulator_session(pytestconfig: pytest.Config) -> Iterator[EmulatorHandle]:
    """One emulator for the whole test session (not reset between tests)."""
    from airflow_provider_bc.testing.emulator import EmulatorHandle

    entries = int(pytestconfig.getini("bc_emulator_entries"))
    with EmulatorHandle.start(entries=entries) as emulator:
        yield emulator


@pytest.fixture
def bc_emulator(bc_emulator_session: EmulatorHandle) -> EmulatorHandle:
    """The session's emulator, reset: start configuration, no faults, zero counters (data is kept)."""
    bc_emulator_session.reset()
    return bc_emulator_session
