"""The ``[emulator]`` extra: the packages the emulator needs beyond the provider's own dependencies.

Without them, the emulator, its pytest plugin and the demo say which extra to install instead of
failing with a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib.util
import sys

INSTALL_COMMAND = 'pip install "airflow-provider-business-central[emulator]"'
_DISTRIBUTIONS = {"uvicorn": "uvicorn", "trustme": "trustme", "jwt": "PyJWT"}  # module -> what provides it


class MissingExtraError(ImportError):
    """A package of the ``[emulator]`` extra is not installed."""


def require_emulator_extra() -> None:
    """Raise :class:`MissingExtraError`, naming the missing packages and the extra, if one is missing."""
    missing = [name for module, name in _DISTRIBUTIONS.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingExtraError(
            f"the Business Central emulator needs {', '.join(missing)} (the [emulator] extra): {INSTALL_COMMAND}"
        )


def exit_without_emulator_extra() -> None:
    """For ``python -m`` entry points: if the extra is missing, print why on stderr and exit with status 2."""
    try:
        require_emulator_extra()
    except MissingExtraError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
