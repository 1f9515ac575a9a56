"""The session-wide secret scan (tests/secret_scan.py) finds what it is meant to find, and says where."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.testing.airflow_runs import xcom_model
from tests.secret_scan import Leak, SecretScanner, describe, find_leaks

REPO = Path(__file__).resolve().parents[1]
FAKE_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIiwidGlkIjoieCJ9.c2lnbmF0dXJlLXBsYW50ZWQ"


def test_find_leaks_names_kind_and_place_never_the_value() -> None:
    secret = "s3cr3t-" + uuid.uuid4().hex
    texts = [
        ("log msal during t1", f"client_secret={secret}&scope=x"),
        ("log urllib3 during t1", "GET /companies 200"),
        ("BusinessCentralAuthError during t2", f"invalid_client for secret {secret}"),
        ("XCom d/t[-1]/return_value of run r", f'{{"token": "{FAKE_JWT}"}}'),
        ("log httpx during t3", f"Authorization: Bearer {FAKE_JWT[:30]}"),
    ]
    leaks = find_leaks(texts, {secret: "client secret", FAKE_JWT: "access token issued by the emulator"})
    assert leaks == sorted(
        [
            Leak("client secret", "log msal during t1"),
            Leak("client secret", "BusinessCentralAuthError during t2"),
            Leak("access token issued by the emulator", "XCom d/t[-1]/return_value of run r"),
            Leak("bearer token", "log httpx during t3"),
        ]
    )
    report = "\n".join(describe(leaks))
    assert secret not in report and FAKE_JWT[:20] not in report
    assert "client secret in log msal during t1" in report


def test_find_leaks_generic_patterns_and_no_false_alarms() -> None:
    texts = [
        ("a", f"cached {FAKE_JWT}"),  # a JWT nobody registered
        ("b", "-----BEGIN PRIVATE KEY-----\nMIIE..."),
        ("c", "-----BEGIN RSA PRIVATE KEY-----"),
        ("d", "grant_type=client_credentials&client_assertion=eyJhbGciOiJSUzI1NiJ9.payload.sig"),
        ("e", "-----BEGIN CERTIFICATE-----\nMIIC..."),  # a certificate is public
        ("f", "AADSTS7000215: 'client_assertion', 'client_secret' or 'request' is required"),
        ("g", 'WWW-Authenticate: Bearer authorization_uri="https://login/x", error="invalid_token"'),
        ("h", "id=44a76d24-52ff-eb11-bb76-000d3a220646 status=401 code=Authentication_InvalidCredentials"),
        ("i", "headers={'Authorization': 'Basic QURNSU46czNjcjN0LWFjY2Vzcy1rZXk='}"),
        ("j", 'WWW-Authenticate: Basic realm=""'),  # BC on-premises' challenge
        ("k", "{'X-IDENTITY-HEADER': 'k2Jd8s0aLq3Zt7Vw9xYb1Nc4'}"),
        ("l", "-----BEGIN ENCRYPTED PRIVATE KEY-----"),
    ]
    leaks = find_leaks(texts, {"short": "client secret", "": "client secret"})  # too short to look for
    assert {(leak.where, leak.kind) for leak in leaks} == {
        ("a", "JWT"),
        ("b", "PEM private key"),
        ("c", "PEM private key"),
        ("d", "client assertion"),
        ("i", "Basic credentials"),
        ("k", "managed identity header"),
        ("l", "PEM private key"),
    }
    assert find_leaks([], {"whatever-secret": "client secret"}) == []


def test_xcom_values_are_read_from_the_metadata_db_once_each(tmp_path: Path) -> None:
    columns = ["dag_id", "run_id", "task_id", "map_index", "key", "value"]
    assert set(columns) <= set(xcom_model().__table__.c.keys())  # what the reader selects, in Airflow's schema
    db = tmp_path / "airflow.db"
    scanner = SecretScanner(xcom_db=lambda: db)
    scanner.read_xcom()  # no DB yet: nothing, no error
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE dag (dag_id TEXT)")
    scanner.read_xcom()  # a DB without the xcom table yet: nothing, no error
    with sqlite3.connect(db) as connection:
        connection.execute(f"CREATE TABLE xcom ({', '.join(columns)})")
        row = ("d", "r", "t", -1, "return_value", json.dumps({"token": FAKE_JWT}))
        connection.execute("INSERT INTO xcom VALUES (?, ?, ?, ?, ?, ?)", row)
    scanner.read_xcom()
    scanner.read_xcom()  # read after every test: the same value is kept once
    assert len(scanner.texts) == 1
    assert scanner.leaks() == [Leak("JWT", "XCom d/t[-1]/return_value of run r")]


def test_the_session_scan_catches_a_planted_secret(
    request: pytest.FixtureRequest, secret_scanner: SecretScanner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret on a logger that does not propagate, in an error message, and a token on airflow.task:
    the session's own scanner sees all three, where they happened; then they are taken out again."""
    secret = "planted-" + uuid.uuid4().hex
    here = request.node.nodeid
    secret_scanner.add_secret("client secret", secret)
    try:
        for name in ("msal", "airflow.task"):
            monkeypatch.setattr(logging.getLogger(name), "propagate", False)
            # to the scan alone: Airflow 2 prints airflow.task too, and a test's output is scanned after it
            monkeypatch.setattr(logging.getLogger(name), "handlers", [secret_scanner.handler])
        logging.getLogger("msal").debug("acquiring a token with %s", secret)
        BusinessCentralError(f"token request refused for {secret}", status=401)
        try:
            raise RuntimeError(f"boom {FAKE_JWT}")
        except RuntimeError:
            logging.getLogger("airflow.task").exception("task failed")  # the token is in the traceback only

        leaks = set(secret_scanner.leaks())
        assert Leak("client secret", f"log msal during {here}") in leaks
        assert Leak("client secret", f"BusinessCentralError during {here}") in leaks
        assert Leak("JWT", f"log airflow.task during {here}") in leaks
    finally:
        secret_scanner.discard(secret)
        secret_scanner.discard(FAKE_JWT)
    assert not {leak for leak in secret_scanner.leaks() if leak.where.endswith(here)}


def test_a_leak_fails_the_run_and_the_summary_names_it_without_the_value(tmp_path: Path) -> None:
    secret = "inner-" + uuid.uuid4().hex
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            from tests.secret_scan import SecretScanner, SecretScanPlugin

            def pytest_configure(config):
                scanner = SecretScanner()
                scanner.add_secret("client secret", {secret!r})
                config.pluginmanager.register(SecretScanPlugin(scanner), "inner_secret_scan")
            """
        )
    )
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            f"""
            import logging

            def test_quiet():
                logging.getLogger("urllib3").debug("GET / 200")

            def test_leaky():
                logging.getLogger("urllib3").debug("sending %s", {secret!r})
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = out.stdout + out.stderr
    assert out.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "2 passed" in output
    assert "secret scan" in output
    assert "client secret in log urllib3 during test_inner.py::test_leaky" in output
    assert "test_quiet" not in output.split("secret scan", 1)[1]
    assert secret not in output
