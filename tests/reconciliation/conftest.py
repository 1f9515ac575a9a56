"""A real PostgreSQL server for the reconciliation tests (Debian's package; see :mod:`postgres_server`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reconciliation.postgres_server import PostgresServer, ensure_postgresql


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A started server for the whole session; stopped (and its folder removed) at the end."""
    with PostgresServer(ensure_postgresql()) as server:
        yield server


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """The name of a fresh, empty database on :func:`postgres_server`, dropped after the test.

    A test that took the server down (``kill()``) and left it so gets it started again here.
    """
    name = postgres_server.create_database()
    yield name
    postgres_server.start()  # no-op when running
    postgres_server.drop_database(name)
