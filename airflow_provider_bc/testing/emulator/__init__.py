"""A local Business Central API v2.0 + Microsoft Entra ID emulator (HTTPS), for tests and demos.

Start it with ``python -m airflow_provider_bc.testing.emulator`` or from Python with
:meth:`EmulatorHandle.start`; its pytest fixtures (``bc_emulator``) come with the opt-in plugin
:mod:`airflow_provider_bc.testing.pytest_plugin`. Needs the ``[emulator]`` extra (:mod:`.extra`).
"""

from __future__ import annotations

from .handle import EmulatorError, EmulatorHandle

__all__ = ["EmulatorError", "EmulatorHandle"]
