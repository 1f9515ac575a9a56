"""How the emulator starts (:class:`ServerOptions`) and the behaviour a test may change while it runs
(:class:`RuntimeConfig`: latency, bandwidth, rate and concurrency limits, tokens)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_RANGES: dict[str, tuple[type[float] | type[int], float]] = {  # setting: (type, minimum)
    "latency": (float, 0),
    "rate_limit": (int, 1),
    "rate_window": (float, 0.001),
    "max_concurrent": (int, 1),
    "queue_size": (int, 0),
    "token_lifetime": (int, 1),
    "bandwidth": (int, 0),
}
#: settings that are text
_TEXTS = frozenset({"on_premises_valid_audiences"})


@dataclass
class RuntimeConfig:
    """Limits and behaviour, shared by reference by every part of the running emulator."""

    latency: float = 0.0  # seconds added to each BC API request while it holds its processing slot
    rate_limit: int = 6000  # requests per principal ...
    rate_window: float = 300.0  # ... within this sliding window (seconds)
    max_concurrent: int = 5  # requests of one principal processed at once
    queue_size: int = 95  # requests of one principal waiting for a slot; beyond: 429
    token_lifetime: int = 3600  # seconds, for newly issued access tokens
    bandwidth: int = 0  # bytes per second at which each BC API answer's body is sent (0: no limit)
    #: the on-premises server instance's ``ValidAudiences`` (``;``-separated), when it trusts Entra ID
    #: (credential type AccessControlService): bearer tokens for these audiences are accepted besides Basic
    #: credentials; empty: NavUserPassword, Basic only
    on_premises_valid_audiences: str = ""

    def apply(self, changes: dict[str, Any]) -> None:
        """Change settings in place; unknown names, wrong types or out-of-range values raise ValueError."""
        for name, value in changes.items():
            if name in _TEXTS:
                if not isinstance(value, str):
                    raise ValueError(f"{name} must be text, not {value!r}")
                continue
            if name not in _RANGES:
                raise ValueError(f"unknown setting {name!r}; known: {sorted([*_RANGES, *_TEXTS])}")
            kind, minimum = _RANGES[name]
            allowed = (int, float) if kind is float else int
            if isinstance(value, bool) or not isinstance(value, allowed) or value < minimum:
                raise ValueError(f"{name} must be a number >= {minimum}, not {value!r}")
        for name, value in changes.items():
            setattr(self, name, value if name in _TEXTS else _RANGES[name][0](value))

    def as_dict(self) -> dict[str, Any]:
        """The current settings by name."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ServerOptions:
    """How to start: where to listen, how much data, where to keep certificates and the ready file."""

    host: str = "127.0.0.1"
    port: int = 0
    entries: int = 1000
    seed: int = 42
    state_dir: Path | None = None  # None: a new temp dir, removed when the emulator stops
    ready_file: Path | None = None
    env_file: Path | None = None  # shell exports, written when ready and removed when the emulator stops
    access_log: bool = True
