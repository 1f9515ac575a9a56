"""The parts of a running emulator that requests and the control API share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .entra import Directory
from .environments import Environments
from .faults import FaultScript
from .limits import Admission
from .settings import RuntimeConfig
from .stats import Stats


@dataclass
class EmulatorState:
    """Data, identities, limits, faults and counters of one emulator process."""

    info: dict[str, Any]  # what the CLI prints and the ready file holds
    defaults: RuntimeConfig  # the configuration given at start, restored by reset()
    config: RuntimeConfig
    environments: Environments  # each one's data
    directory: Directory
    admission: Admission
    faults: FaultScript
    stats: Stats

    def reset(self) -> None:
        """Clear faults, counters, log and rate history; restore the start configuration; lift revocations.

        Data (of every environment), registered clients and issued tokens stay valid; revoked tokens are
        accepted again (a revocation lasts until the next reset, i.e. for the test that made it).
        """
        self.config.apply(dataclasses.asdict(self.defaults))
        self.faults.clear()
        self.stats.reset()
        self.admission.reset()
        self.directory.lift_revocations()
