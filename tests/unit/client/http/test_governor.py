"""The per-principal governor: window and 429 decisions on a fake clock (``Ledger``), slots shared by
threads and event loops (``Governor``), and the process-wide registry (``governor_for``).

Tests wait for states the governor reports (``until``), never for a guessed time; the few that check
a wait measure it against a short real window or ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest

from airflow_provider_bc.client.async_client import AsyncBusinessCentralClient
from airflow_provider_bc.client.client import BusinessCentralClient
from airflow_provider_bc.client.errors import BusinessCentralConfigError
from airflow_provider_bc.client.http.exchange import Answer
from airflow_provider_bc.client.http.governor import Governor, governor_for
from airflow_provider_bc.client.http.request_window import GovernorStats, Ledger, Limits
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.hooks.connection_settings import settings_from_connection
from tests.support import offline_settings

T = TypeVar("T")
GOVERNOR_LOG = "airflow_provider_bc.client.http.governor"
OK = Answer(200, {}, b"{}")


def throttled(retry_after: str | None = None) -> Answer:
    return Answer(429, {} if retry_after is None else {"Retry-After": retry_after}, b"{}")


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Return as soon as ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the governor never reached the expected state"
        time.sleep(0.002)


def settings(**overrides: Any) -> ClientSettings:
    """Settings of a principal no other test uses (the registry lives as long as the process)."""
    built: ClientSettings = offline_settings(client_id=str(uuid.uuid4()), **overrides)
    return built


class LoopThread:
    """An event loop running in its own thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def close(self) -> None:
        """Stop and close the loop, whatever still waits on it."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@pytest.fixture
def loops() -> Iterator[Callable[[], LoopThread]]:
    made: list[LoopThread] = []

    def make() -> LoopThread:
        made.append(LoopThread())
        return made[-1]

    yield make
    for loop_thread in made:
        if not loop_thread.loop.is_closed():
            loop_thread.close()


class Requests:
    """Fake HTTP exchanges that run until released, recording their order and how many ran at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.order: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def _begin(self, name: str) -> None:
        with self._lock:
            self.order.append(name)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)

    def _end(self) -> None:
        with self._lock:
            self.running -= 1

    def sync(self, name: str, answer: Answer = OK) -> Callable[[], Answer]:
        def request() -> Answer:
            self._begin(name)
            try:
                assert self.release.wait(5)
                return answer
            finally:
                self._end()

        return request

    def asynchronous(self, name: str, answer: Answer = OK) -> Callable[[], Awaitable[Answer]]:
        async def request() -> Answer:
            self._begin(name)
            try:
                assert await asyncio.to_thread(self.release.wait, 5)
                return answer
            finally:
                self._end()

        return request


def in_thread(governor: Governor, request: Callable[[], Answer], **options: Any) -> Future[Answer]:
    """``governor.send(request)`` in a new thread."""
    result: Future[Answer] = Future()

    def run() -> None:
        try:
            result.set_result(governor.send(request, **options))
        except BaseException as exc:
            result.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return result


# -- Ledger: the decisions, at given instants -------------------------------------------------------


def test_the_window_holds_back_starts_until_its_oldest_start_leaves_it() -> None:
    ledger = Ledger(Limits(max_in_flight=5, max_requests=3, window=10.0))
    for now in (0.0, 1.0, 2.0):
        assert ledger.delay(now) == 0.0
        ledger.finish(ledger.start(now), now, 200)
    assert ledger.delay(2.0) == 8.0
    assert ledger.delay(9.5) == 0.5
    assert ledger.delay(10.0) == 0.0  # the start at 0.0 has left the window
    ledger.start(10.0)
    assert ledger.delay(10.0) == 1.0  # the oldest start is now 1.0
    assert ledger.started == 4


def test_a_batch_counts_its_operations_in_the_window_and_one_slot_in_flight() -> None:
    ledger = Ledger(Limits(max_in_flight=5, max_requests=10, window=100.0))
    ledger.start(0.0, operations=8)
    assert (ledger.delay(5.0), ledger.in_flight) == (0.0, 1)  # 8 of 10: room for one more start
    ledger.start(5.0, operations=8)
    assert ledger.delay(6.0) == 94.0  # 16 in the window: 6 of the 8 at 0.0 must leave it first
    assert ledger.delay(100.0) == 0.0
    assert ledger.started == 2


def test_a_request_waits_while_every_slot_is_taken() -> None:
    ledger = Ledger(Limits(max_in_flight=2))
    first = ledger.start(0.0)
    assert ledger.delay(0.0) == 0.0
    ledger.start(0.0)
    assert ledger.delay(0.0) == math.inf
    ledger.finish(first, 1.0, 200)
    assert ledger.delay(1.0) == 0.0
    assert (ledger.in_flight, ledger.peak_in_flight) == (1, 2)


def test_a_429_lowers_the_limit_once_for_the_requests_already_running() -> None:
    ledger = Ledger(Limits(max_in_flight=3))
    running = [ledger.start(0.0) for _ in range(3)]
    assert [ledger.finish(epoch, 1.0, 429) for epoch in running] == [True, False, False]
    assert (ledger.limit, ledger.throttled) == (2, 3)
    for expected in (1, 1):  # one per request started after the last lowering, never below 1
        ledger.finish(ledger.start(2.0), 2.0, 429)
        assert ledger.limit == expected
    assert ledger.throttled == 5


def test_answers_without_throttling_raise_the_limit_again_one_step_at_a_time() -> None:
    ledger = Ledger(Limits(max_in_flight=3, recovery=3))
    ledger.finish(ledger.start(0.0), 0.0, 429)
    old = ledger.start(0.0)
    ledger.finish(ledger.start(0.0), 0.0, 429)
    assert ledger.limit == 1
    for status in (200, 404, None, 500, 503):  # no answer and 5xx neither count nor break the run
        ledger.finish(ledger.start(1.0), 1.0, status)
    assert ledger.limit == 1
    ledger.finish(old, 1.0, 429)  # an older epoch's 429 lowers nothing but restarts the count
    assert ledger.limit == 1
    for _ in range(2):
        ledger.finish(ledger.start(2.0), 2.0, 200)
    assert ledger.limit == 1
    ledger.finish(ledger.start(2.0), 2.0, 200)
    assert ledger.limit == 2
    for _ in range(20):
        ledger.finish(ledger.start(3.0), 3.0, 200)
    assert ledger.limit == 3  # never above max_in_flight


def test_a_429s_pause_holds_back_new_starts_and_is_never_shortened() -> None:
    ledger = Ledger(Limits())
    first, second = ledger.start(10.0), ledger.start(10.0)
    ledger.finish(first, 10.0, 429, pause=3.0)
    assert ledger.delay(11.0) == 2.0
    ledger.finish(second, 11.0, 429, pause=1.0)
    assert ledger.delay(11.5) == 1.5
    assert ledger.delay(13.0) == 0.0
    ledger.finish(ledger.start(13.0), 13.0, 429)  # no Retry-After: no pause
    assert ledger.delay(13.0) == 0.0


# -- Governor: slots shared by threads and event loops ------------------------------------------------


def test_threads_never_run_more_requests_than_the_limit() -> None:
    governor = Governor(Limits(max_in_flight=3))
    requests = Requests()
    results = [in_thread(governor, requests.sync(f"t{i}")) for i in range(10)]
    until(lambda: governor.stats.in_flight == 3 and governor.stats.waiting == 7)
    assert requests.running == 3
    requests.release.set()
    assert [result.result(5) for result in results] == [OK] * 10
    assert requests.most_at_once == 3
    stats = governor.stats
    assert (stats.started, stats.in_flight, stats.peak_in_flight, stats.waiting, stats.waits) == (10, 0, 3, 0, 7)
    assert stats.wait_seconds > 0


def test_two_event_loops_in_two_threads_share_the_slots(loops: Callable[[], LoopThread]) -> None:
    governor = Governor(Limits(max_in_flight=2))
    requests = Requests()
    first, second = loops(), loops()
    results = [
        loop_thread.submit(governor.asend(requests.asynchronous(f"{name}{i}")))
        for name, loop_thread in (("a", first), ("b", second))
        for i in range(4)
    ]
    until(lambda: governor.stats.in_flight == 2 and governor.stats.waiting == 6)
    requests.release.set()
    assert [result.result(5) for result in results] == [OK] * 8
    assert requests.most_at_once == 2
    assert sorted(requests.order) == ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"]
    assert (governor.stats.in_flight, governor.stats.waits) == (0, 6)


def test_slots_go_first_come_first_served_to_threads_and_event_loops(loops: Callable[[], LoopThread]) -> None:
    governor = Governor(Limits(max_in_flight=1))
    requests = Requests()
    first, second = loops(), loops()
    holder = in_thread(governor, requests.sync("holder"))
    until(lambda: governor.stats.in_flight == 1)
    queued: list[Future[Answer]] = []
    for name, place in [("t1", None), ("a1", first), ("t2", None), ("b1", second), ("a2", first)]:
        if place is None:
            queued.append(in_thread(governor, requests.sync(name)))
        else:
            queued.append(place.submit(governor.asend(requests.asynchronous(name))))
        until(lambda: governor.stats.waiting == len(queued))
    requests.release.set()
    assert [result.result(5) for result in [holder, *queued]] == [OK] * 6
    assert requests.order == ["holder", "t1", "a1", "t2", "b1", "a2"]


def test_a_cancelled_waiter_leaves_the_queue(loops: Callable[[], LoopThread]) -> None:
    governor = Governor(Limits(max_in_flight=1))
    requests = Requests()
    holder = in_thread(governor, requests.sync("holder"))
    until(lambda: governor.stats.in_flight == 1)
    waiter = loops().submit(governor.asend(requests.asynchronous("cancelled")))
    until(lambda: governor.stats.waiting == 1)
    waiter.cancel()
    until(lambda: governor.stats.waiting == 0)
    requests.release.set()
    assert holder.result(5) == OK
    assert governor.send(lambda: OK) == OK
    stats = governor.stats
    assert (stats.started, stats.in_flight, stats.waits) == (2, 0, 0)
    assert requests.order == ["holder"]


async def test_a_waiter_cancelled_after_it_was_granted_a_slot_gives_it_back() -> None:
    governor = Governor(Limits(max_in_flight=1))
    free = asyncio.Event()
    ran: list[str] = []

    async def hold() -> Answer:
        await free.wait()
        return OK

    async def cancelled() -> Answer:
        ran.append("cancelled")
        return OK

    holder = asyncio.create_task(governor.asend(hold))
    while governor.stats.in_flight == 0:
        await asyncio.sleep(0)
    waiter = asyncio.create_task(governor.asend(cancelled))
    while governor.stats.waiting == 0:
        await asyncio.sleep(0)
    free.set()
    await holder  # releasing its slot granted it to the waiter, which has not run since
    assert (governor.stats.in_flight, governor.stats.waiting) == (1, 0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert ran == []
    assert governor.stats.in_flight == 0
    assert await governor.asend(cancelled) == OK
    assert (governor.stats.started, governor.stats.waits) == (3, 1)


def test_a_waiter_whose_event_loop_closed_keeps_no_slot(loops: Callable[[], LoopThread]) -> None:
    governor = Governor(Limits(max_in_flight=1))
    requests = Requests()
    holder = in_thread(governor, requests.sync("holder"))
    until(lambda: governor.stats.in_flight == 1)
    gone = loops()
    gone.submit(governor.asend(requests.asynchronous("never")))
    until(lambda: governor.stats.waiting == 1)
    gone.close()
    requests.release.set()
    assert holder.result(5) == OK
    assert governor.stats.in_flight == 0
    assert governor.send(lambda: OK) == OK
    assert requests.order == ["holder"]


def test_429s_lower_the_concurrency_and_answers_raise_it_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, GOVERNOR_LOG)
    governor = Governor(Limits(max_in_flight=3, recovery=2), name="client id x")
    requests = Requests()
    storm = [in_thread(governor, requests.sync(f"s{i}", throttled())) for i in range(3)]
    until(lambda: governor.stats.in_flight == 3)
    requests.release.set()
    assert [result.result(5).status for result in storm] == [429] * 3
    assert (governor.stats.limit, governor.stats.throttled) == (2, 3)
    assert [r.getMessage() for r in caplog.records] == [
        "Business Central throttled client id x (HTTP 429): at most 2 requests in flight now"
    ]

    requests = Requests()
    after = [in_thread(governor, requests.sync(f"r{i}")) for i in range(3)]
    until(lambda: governor.stats.in_flight == 2 and governor.stats.waiting == 1)
    requests.release.set()
    assert [result.result(5) for result in after] == [OK] * 3
    assert requests.most_at_once == 2
    assert governor.stats.limit == 3
    assert caplog.records[-1].getMessage() == "No throttling of client id x lately: at most 3 requests in flight now"


def test_a_429s_retry_after_holds_back_a_request_waiting_for_a_slot() -> None:
    governor = Governor(Limits(max_in_flight=1))
    requests = Requests()
    holder = in_thread(governor, requests.sync("holder", throttled("1")), max_pause=5)
    until(lambda: governor.stats.in_flight == 1)
    waiting = in_thread(governor, requests.sync("next"))
    until(lambda: governor.stats.waiting == 1)
    requests.release.set()
    assert holder.result(5).status == 429
    released = time.monotonic()
    assert waiting.result(5) == OK  # woken to time its wait: no release would ever come
    assert time.monotonic() - released >= 0.9
    assert governor.stats.waits == 1


def test_a_retry_after_longer_than_the_caller_waits_holds_back_nothing() -> None:
    governor = Governor(Limits())
    assert governor.send(lambda: throttled("6"), max_pause=5).status == 429
    assert governor.send(lambda: throttled("soon"), max_pause=5).status == 429
    started = time.monotonic()
    assert governor.send(lambda: OK) == OK
    assert time.monotonic() - started < 1
    assert governor.stats.waits == 0


def test_a_full_window_holds_back_the_next_start_until_its_oldest_start_leaves_it() -> None:
    governor = Governor(Limits(max_requests=2, window=0.3))
    first = time.monotonic()
    for _ in range(3):
        assert governor.send(lambda: OK) == OK
    assert time.monotonic() - first >= 0.3
    assert (governor.stats.started, governor.stats.waits) == (3, 1)


def test_a_failed_exchange_gives_its_slot_back() -> None:
    governor = Governor(Limits(max_in_flight=1))

    def fails() -> Answer:
        raise ConnectionError("reset")

    with pytest.raises(ConnectionError):
        governor.send(fails)
    assert governor.stats.in_flight == 0
    assert governor.send(lambda: OK) == OK


def test_stats_read_as_one_progress_line() -> None:
    stats = GovernorStats(
        started=120, in_flight=4, peak_in_flight=5, waiting=2, waits=7, wait_seconds=3.25, throttled=1, limit=4
    )
    assert stats.describe() == (
        "4/4 requests in flight (peak 5), 120 started, 2 waiting (7 waited 3.2 s in all), 1 throttled"
    )


# -- the registry: one governor per principal per process ---------------------------------------------


def test_clients_of_one_principal_share_one_governor() -> None:
    base = settings()
    same = offline_settings(
        client_id=base.client_id.upper(),
        client_secret="another-secret",
        tenant_id=base.tenant_id.upper(),
        api_host=base.api_host.upper() + "/",
        environment="sandbox",
    )
    assert governor_for(same) is governor_for(base)
    assert BusinessCentralClient(base).governor is governor_for(base)
    assert AsyncBusinessCentralClient(same).governor is governor_for(base)
    for other in (
        {"tenant_id": "fabrikam.onmicrosoft.com"},
        {"api_host": "https://bc.example.com"},
        {"authority": "https://login.microsoft.com"},
    ):
        assert governor_for(offline_settings(client_id=base.client_id, **other)) is not governor_for(base)
    assert governor_for(settings()) is not governor_for(base)


def test_threads_asking_at_once_get_one_governor() -> None:
    principal = settings()
    barrier = threading.Barrier(16)
    found: list[Governor] = []

    def ask() -> None:
        barrier.wait(5)
        found.append(governor_for(principal))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(found) == 16
    assert len({id(governor) for governor in found}) == 1


def test_the_first_limits_asked_for_a_principal_are_kept(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, GOVERNOR_LOG)
    first = settings(max_in_flight=2, max_requests=100, request_window=60.0)
    governor = governor_for(first)
    assert governor.limits == Limits(max_in_flight=2, max_requests=100, window=60.0)
    assert governor.stats.limit == 2
    other = offline_settings(client_id=first.client_id, max_in_flight=4, source="connection 'other'")
    assert governor_for(other) is governor
    assert governor_for(other) is governor
    assert governor.limits.max_in_flight == 2
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith("connection 'other' asks for Limits(max_in_flight=4")
    assert "kept" in warning


def test_a_forked_child_starts_with_its_own_governors() -> None:
    principal = settings()
    governor = governor_for(principal)
    requests = Requests()
    holder = in_thread(governor, requests.sync("holder"))
    until(lambda: governor.stats.in_flight == 1)
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if it owns a fresh governor with a free slot
        fresh = governor_for(principal)
        os._exit(0 if fresh is not governor and fresh.stats.in_flight == 0 else 1)
    _, status = os.waitpid(pid, 0)
    requests.release.set()
    assert holder.result(5) == OK
    assert os.waitstatus_to_exitcode(status) == 0


# -- settings and connection extras --------------------------------------------------------------------


def test_defaults_are_business_centrals_limits() -> None:
    assert Limits.of(settings()) == Limits(max_in_flight=5, max_requests=6000, window=300.0)


@pytest.mark.parametrize(
    ("field", "value"), [("max_in_flight", 0), ("max_requests", 0), ("request_window", 0.0), ("request_window", -1.0)]
)
def test_limits_that_would_stop_every_request_are_refused(field: str, value: float) -> None:
    with pytest.raises(BusinessCentralConfigError) as caught:
        settings(**{field: value})
    assert caught.value.field == field


def test_connection_extras_set_the_limits() -> None:
    extra = {
        "tenant_id": "contoso.onmicrosoft.com",
        "max_concurrent_requests": "3",
        "max_requests_per_window": "1000",
        "request_window": "60",
    }
    built = settings_from_connection("bc", login=str(uuid.uuid4()), password="pw", host=None, extra=extra)
    assert Limits.of(built) == Limits(max_in_flight=3, max_requests=1000, window=60.0)
