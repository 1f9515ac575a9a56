"""Shared helpers for the emulator's own tests: plain ``requests`` against the session's emulator."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import requests

from airflow_provider_bc.testing.emulator import EmulatorHandle

CORRELATION = re.compile(r"CorrelationId:  ([0-9a-f-]{36})\.$")
T = TypeVar("T")


class Api:
    """GET requests with a bearer token against one emulator; paths are relative to its API root."""

    def __init__(self, emulator: EmulatorHandle, token: str) -> None:
        self.emulator = emulator
        self.token = token
        self.session = requests.Session()

    def url(self, path: str, tenant: bool = True) -> str:
        return path if path.startswith("https://") else self.emulator.api_url(tenant) + path

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        **options: Any,
    ) -> requests.Response:
        """GET with ``Authorization: Bearer`` (``token=""`` sends none); ``verify`` per request, because
        ``Session.verify`` loses against a ``REQUESTS_CA_BUNDLE`` set in the environment. ``options``
        go to ``requests`` (``timeout``, default 60 s; ``stream``, ``allow_redirects``)."""
        bearer = self.token if token is None else token
        sent = {**({"Authorization": f"Bearer {bearer}"} if bearer else {}), **(headers or {})}
        options.setdefault("timeout", 60)
        return self.session.get(self.url(path), params=params, headers=sent, verify=self.emulator.ca_bundle, **options)

    def pages(
        self, path: str, params: dict[str, Any] | None = None, page_size: int | None = None
    ) -> list[tuple[requests.Response, dict[str, Any]]]:
        """Every (response, parsed body) of a collection read, following ``@odata.nextLink`` to the end."""
        headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
        response = self.get(path, params, headers)
        pages = []
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            pages.append((response, body))
            if "@odata.nextLink" not in body:
                return pages
            response = self.get(body["@odata.nextLink"], headers=headers)

    def entries_path(self, company_id: str | None = None) -> str:
        return f"/companies({company_id or self.emulator.default_company_id})/itemLedgerEntries"

    def warm_sessions(self, count: int) -> list[requests.Session]:
        """``count`` sessions, each with its connection open (TLS handshake done) for a race of :meth:`at_once`."""
        sessions = [requests.Session() for _ in range(count)]
        for session in sessions:
            session.get(
                self.url("/companies"),
                headers={"Authorization": f"Bearer {self.token}"},
                verify=self.emulator.ca_bundle,
            )
        return sessions

    @staticmethod
    def at_once(sessions: list[requests.Session], send: Callable[[requests.Session], T]) -> list[T]:
        """``send`` on every session at the same moment, each in a thread of its own, the session closed
        after; the results in the order they came."""
        barrier = threading.Barrier(len(sessions))
        results: list[T] = []

        def call(session: requests.Session) -> None:
            barrier.wait()
            results.append(send(session))
            session.close()

        threads = [threading.Thread(target=call, args=(session,)) for session in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    @staticmethod
    def assert_error(response: requests.Response, status: int, code: str) -> str:
        """Check a BC-shaped error answer with BC's headers; return its message."""
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["OData-Version"] == "4.0"
        assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["Request-Id"])
        error = response.json()["error"]
        assert error["code"] == code, error
        match = CORRELATION.search(error["message"])
        assert match and match.group(1) == response.headers["ms-correlation-x"]
        return str(error["message"])


@pytest.fixture(scope="session")
def session_token(bc_emulator_session: EmulatorHandle) -> str:
    """A token of the default client (valid for the whole session: reset keeps tokens valid)."""
    return bc_emulator_session.token()


@pytest.fixture
def api(bc_emulator: EmulatorHandle, session_token: str) -> Iterator[Api]:
    """An :class:`Api` on the freshly reset session emulator."""
    client = Api(bc_emulator, session_token)
    yield client
    client.session.close()


@pytest.fixture(scope="session")
def all_entries(bc_emulator_session: EmulatorHandle, session_token: str) -> list[dict[str, Any]]:
    """Every entry of the default company, read once in entry-number order."""
    bc_emulator_session.reset()  # whatever the previous test left configured
    client = Api(bc_emulator_session, session_token)
    return [entry for _, body in client.pages(client.entries_path()) for entry in body["value"]]


@pytest.fixture(scope="module")
def own(request: pytest.FixtureRequest) -> Iterator[Api]:
    """An API client on an emulator of the test module's own, seeded with its ``ENTRIES`` entries."""
    with EmulatorHandle.start(entries=request.module.ENTRIES) as emulator:
        client = Api(emulator, emulator.token())
        yield client
        client.session.close()
