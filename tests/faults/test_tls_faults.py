"""TLS failures are told apart from outages: a certificate for another name is refused at once,
not retried and not mistaken for a timeout (an independent HTTPS server, not the emulator)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from airflow_provider_bc.client import errors
from airflow_provider_bc.client.odata.lookup import Lookup
from tests.faults.conftest import Reader


class _WrongNameServer:
    """Accepts TLS handshakes with a certificate for ``elsewhere.example`` (trusted CA, wrong name)."""

    def __init__(self, ca: trustme.CA) -> None:
        self.handshakes = 0
        self._sentinel_seen = threading.Event()
        self._sentinel_port = 0
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("elsewhere.example").configure_cert(self._context)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, peer = self._server.accept()
            except OSError:
                return
            if peer[1] == self._sentinel_port:
                self._sentinel_seen.set()
                connection.close()
                continue
            self.handshakes += 1
            try:
                with self._context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client refuses the certificate: that is the point

    def settled_handshakes(self) -> int:
        """Client connections accepted so far, once every earlier connection was taken from the backlog
        (a sentinel connection, queued behind them, has been seen)."""
        with socket.socket() as sentinel:
            sentinel.bind(("127.0.0.1", 0))
            self._sentinel_port = sentinel.getsockname()[1]
            sentinel.connect(("127.0.0.1", self.port))
            assert self._sentinel_seen.wait(10)
        return self.handshakes

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def wrong_name(tmp_path: Path, bc_emulator: Any) -> Iterator[tuple[_WrongNameServer, str]]:
    """The server, and a CA bundle trusting both its CA and the emulator's (Entra stays reachable)."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(bc_emulator.ca_bundle).read_bytes() + ca.cert_pem.bytes())
    server = _WrongNameServer(ca)
    yield server, str(bundle)
    server.close()


def test_a_certificate_for_another_name_is_a_tls_error_not_retried(
    path: str, reader_for: Callable[..., Reader], wrong_name: tuple[_WrongNameServer, str], bc_emulator: Any
) -> None:
    server, bundle = wrong_name
    api = reader_for(fresh_client=True, api_host=f"https://127.0.0.1:{server.port}", verify=bundle)
    with pytest.raises(errors.BusinessCentralTLSError, match="was not trusted") as caught:
        api.get(Lookup(entity_id="44a76d24-52ff-eb11-bb76-000d3a220646"))
    assert not caught.value.transient and caught.value.attempts == 1
    assert server.settled_handshakes() == 1


def test_an_untrusted_entra_is_a_tls_error(path: str, reader_for: Callable[..., Reader], bc_emulator: Any) -> None:
    reader = reader_for(fresh_client=True, verify=True)  # the system CAs do not know the emulator's CA
    with pytest.raises(errors.BusinessCentralTLSError, match="verify=True") as caught:
        reader.get(Lookup(entity_id="44a76d24-52ff-eb11-bb76-000d3a220646"))
    assert caught.value.attempts == 1
    assert bc_emulator.stats()["total_requests"] == 0
