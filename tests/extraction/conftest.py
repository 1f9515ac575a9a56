"""An emulator of its own for the extraction tests (what they insert and modify stays in their module),
and an S3-compatible server (moto's) for those writing to ``s3://``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_bc.testing.emulator import EmulatorHandle
from tests.extraction.ledger import ENTRIES


@pytest.fixture(scope="module")
def ledger_emulator() -> Iterator[EmulatorHandle]:
    """A fresh emulator per test module."""
    with EmulatorHandle.start(entries=ENTRIES) as emulator:
        yield emulator


@pytest.fixture
def emulator(ledger_emulator: EmulatorHandle) -> EmulatorHandle:
    """The module's emulator, reset (faults, configuration, counters; data is kept)."""
    ledger_emulator.reset()
    return ledger_emulator


#: the bucket the S3 server holds, empty at first
BUCKET = "lake"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with the bucket :data:`BUCKET`."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()
