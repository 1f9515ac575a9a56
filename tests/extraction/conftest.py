"""An emulator of its own for the extraction tests: what they insert and modify stays in their module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.extraction.ledger import ENTRIES


@pytest.fixture(scope="module")
def ledger_emulator() -> Iterator[EmulatorHandle]:
    """A fresh emulator per test module."""
    with EmulatorHandle.start(entries=ENTRIES) as emulator:
        yield emulator


@pytest.fixture
def emulator(ledger_emulator: EmulatorHandle) -> EmulatorHandle:
    """The module's emulator, reset (faults, configuration, counters; data is kept)."""
    ledger_emulator.reset()
    return ledger_emulator
