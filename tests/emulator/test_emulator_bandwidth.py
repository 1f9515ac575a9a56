"""The per-call bandwidth cap (``--bandwidth`` / ``configure(bandwidth=...)``) and the in-flight counter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_bc.testing.emulator import EmulatorError, EmulatorHandle

BANDWIDTH = 100_000  # bytes per second
MARGIN = 0.75  # of the least time a body can take at the bandwidth: lower bounds only


@pytest.fixture
def throttled(api: Any) -> Iterator[Any]:
    """The session's API client; the emulator is reset afterwards too (no bandwidth left configured)."""
    yield api
    api.emulator.reset()


def _page(api: Any) -> tuple[str, dict[str, Any]]:
    """A collection read of about 200 KB (about two seconds at :data:`BANDWIDTH`)."""
    return api.entries_path(), {"$top": 420}


def _timed_gets(api: Any, count: int) -> list[tuple[int, int, float]]:
    """``count`` GETs of :func:`_page` at the same moment, each on its own warm connection:
    ``(status, body bytes, seconds)`` of each."""
    path, params = _page(api)
    headers, verify = {"Authorization": f"Bearer {api.token}"}, api.emulator.ca_bundle
    sessions = api.warm_sessions(count)  # TLS handshakes done before the race starts

    def send(session: requests.Session) -> tuple[int, int, float]:
        started = time.monotonic()
        response = session.get(api.url(path), params=params, headers=headers, verify=verify, timeout=60)
        return response.status_code, len(response.content), time.monotonic() - started

    return list(api.at_once(sessions, send))


def test_a_body_takes_at_least_its_size_over_the_bandwidth(throttled: Any) -> None:
    path, params = _page(throttled)
    unthrottled = throttled.get(path, params)
    assert throttled.emulator.configure(bandwidth=BANDWIDTH)["bandwidth"] == BANDWIDTH
    started = time.monotonic()
    response = throttled.get(path, params)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.content == unthrottled.content  # the same answer, only slower
    assert len(response.content) > 150_000
    assert elapsed >= MARGIN * len(response.content) / BANDWIDTH


def test_each_call_has_the_bandwidth_to_itself(throttled: Any) -> None:
    throttled.emulator.configure(bandwidth=BANDWIDTH)
    ((status, size, alone),) = _timed_gets(throttled, 1)
    assert status == 200 and alone >= MARGIN * size / BANDWIDTH
    throttled.emulator.reset()
    throttled.emulator.configure(bandwidth=BANDWIDTH)
    pair = _timed_gets(throttled, 2)
    assert [status for status, _, _ in pair] == [200, 200]
    assert throttled.emulator.stats()["max_in_flight"] == 2  # both were being answered at once ...
    assert max(seconds for _, _, seconds in pair) < 1.5 * alone  # ... each at the full bandwidth (shared: 2x)


def test_a_slow_body_holds_its_processing_slot(throttled: Any) -> None:
    throttled.emulator.configure(bandwidth=BANDWIDTH, max_concurrent=1)
    pair = _timed_gets(throttled, 2)
    assert [status for status, _, _ in pair] == [200, 200]
    stats = throttled.emulator.stats()
    assert (stats["max_in_flight"], stats["max_concurrency"]) == (2, 1)  # the second one waited its turn
    size = pair[0][1]
    assert max(seconds for _, _, seconds in pair) >= MARGIN * 2 * size / BANDWIDTH


def test_the_token_endpoint_is_not_throttled(throttled: Any) -> None:
    throttled.emulator.configure(bandwidth=200)  # a token answer (over 1 KB) would take over 5 s
    started = time.monotonic()
    assert throttled.emulator.token()
    assert time.monotonic() - started < 5


def test_in_flight_counts_queued_requests_and_reset_clears_it(throttled: Any) -> None:
    assert throttled.emulator.stats()["max_in_flight"] == 0
    throttled.emulator.configure(latency=0.5, max_concurrent=1)
    assert [status for status, _, _ in _timed_gets(throttled, 3)] == [200, 200, 200]
    stats = throttled.emulator.stats()
    assert (stats["max_in_flight"], stats["max_concurrency"]) == (3, 1)
    throttled.emulator.reset()
    assert throttled.emulator.stats()["max_in_flight"] == 0


def test_bandwidth_from_the_command_line(tmp_path: Path) -> None:
    with EmulatorHandle.start(entries=100, state_dir=tmp_path, bandwidth=20_000) as emulator:
        assert emulator.configure()["bandwidth"] == 20_000
        emulator.configure(bandwidth=0)
        emulator.reset()
        assert emulator.stats()["config"]["bandwidth"] == 20_000  # reset restores the command line's
        started = time.monotonic()
        response = requests.get(
            f"{emulator.api_url()}/companies({emulator.default_company_id})/itemLedgerEntries",
            headers={"Authorization": f"Bearer {emulator.token()}"},
            verify=emulator.ca_bundle,
            timeout=60,
        )
        assert response.status_code == 200 and len(response.content) > 40_000
        assert time.monotonic() - started >= MARGIN * len(response.content) / 20_000


def test_a_negative_bandwidth_is_refused(tmp_path: Path, bc_emulator: EmulatorHandle) -> None:
    with pytest.raises(EmulatorError, match="bandwidth must be a number >= 0"):
        EmulatorHandle.start(entries=10, state_dir=tmp_path, bandwidth=-1)
    with pytest.raises(EmulatorError, match="bandwidth must be a number >= 0"):
        bc_emulator.configure(bandwidth=1.5)
