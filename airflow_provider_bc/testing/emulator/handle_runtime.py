"""The handle's calls about the running emulator as a whole: what it counted (:meth:`stats`), its
runtime configuration, and :meth:`reset`."""

from __future__ import annotations

from typing import Any

from .handle_control import ControlClient


class RuntimeCalls(ControlClient):
    """Counters, the request log and the runtime configuration of the emulator."""

    def stats(self) -> dict[str, Any]:
        """Counters (``requests[route][status]``, the operations inside ``$batch`` requests as
        ``operations[route][status]``, ``tokens_issued``), the highest numbers of BC API requests
        processed at once (``max_concurrency``: holding one of the per-principal slots) and in flight
        at once (``max_in_flight``: from arrival to the answer's last byte, queued ones too), all
        principals together; the recent log (a ``$batch``'s record lists its ``operations``: id, method,
        path, route, status) and the configuration."""
        return self._control("GET", "stats")

    def recent_requests(self) -> list[dict[str, Any]]:
        """The most recent requests, oldest first (time, method, path, route, status, some headers)."""
        return list(self.stats()["recent_requests"])

    def reset(self) -> None:
        """Clear faults, counters and rate history; restore the start configuration; lift every
        revocation made by :meth:`revoke_tokens` (data, clients and tokens stay)."""
        self._control("POST", "reset")

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change ``latency``, ``rate_limit``, ``rate_window``, ``max_concurrent``, ``queue_size``,
        ``token_lifetime``, ``bandwidth`` (bytes per second of each API answer's body, each call on its
        own; 0: no limit) or ``on_premises_valid_audiences`` (``;``-separated: the on-premises instance
        then trusts Entra ID and accepts bearer tokens for them, as BC's ``ValidAudiences``) now; returns
        the whole configuration."""
        return self._call("config", **options)
