"""Every hook test is watched: no log record and no error message may carry a secret or a token."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_bc.client import errors


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture(autouse=True)
def no_secret_or_token_leaks(
    bc_emulator: Any, defined_connections: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    """Collect every log line (DEBUG and up, all loggers) and every BusinessCentralError message of
    the test, then look in them for each client secret used and each token the emulator issued."""
    collector = _Collector()
    collector.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    original_init = errors.BusinessCentralError.__init__

    def recording_init(self: errors.BusinessCentralError, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        collector.texts.append(str(self))

    monkeypatch.setattr(errors.BusinessCentralError, "__init__", recording_init)
    try:
        yield collector.texts
    finally:
        root.removeHandler(collector)
        root.setLevel(previous_level)
    secrets = {c["password"] for c in defined_connections} | {bc_emulator.client_secret}
    tokens = set(bc_emulator.issued_tokens())
    text = "\n".join(collector.texts)
    leaked = [s for s in secrets | tokens if s and s in text]
    assert not leaked, f"{len(leaked)} secret(s)/token(s) found in logs or error messages"
