"""The command line: the printed export line is a working Airflow connection; bad options fail clearly;
SIGTERM and SIGINT remove the temp state dir and the env file."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_bc.testing.emulator import EmulatorError, EmulatorHandle

EXPORT = "export AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT="


@pytest.fixture
def printed_lines(tmp_path: Path) -> Iterator[list[str]]:
    """Start the CLI in the foreground and collect its stdout up to the export line."""
    command = [sys.executable, "-m", "airflow_provider_bc.testing.emulator", "--entries", "30"]
    command += ["--state-dir", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("export "):
            break
    yield lines
    process.terminate()
    process.wait(timeout=30)


def test_export_line_is_a_working_connection(printed_lines: list[str], tmp_path: Path) -> None:
    assert printed_lines[-1].startswith(EXPORT)
    assignment = shlex.split(printed_lines[-1].removeprefix("export "))[0]
    connection = json.loads(assignment.partition("=")[2])
    extra = connection["extra"]
    assert connection["conn_type"] == "business_central"
    assert connection["host"].startswith("https://127.0.0.1:")
    assert extra["authority"] == connection["host"] and extra["environment"] == "production"
    assert extra["verify"] == str(tmp_path / "ca.pem")
    assert any(connection["password"] in line for line in printed_lines[:-1])  # the secret is shown too
    token = requests.post(
        f"{extra['authority']}/{extra['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": connection["login"],
            "client_secret": connection["password"],
            "scope": "https://api.businesscentral.dynamics.com/.default",
        },
        verify=extra["verify"],
        timeout=30,
    ).json()["access_token"]
    company = requests.get(
        f"{connection['host']}/v2.0/{extra['tenant_id']}/{extra['environment']}/api/v2.0"
        f"/companies({extra['company_id']})",
        headers={"Authorization": f"Bearer {token}"},
        verify=extra["verify"],
        timeout=30,
    )
    assert company.status_code == 200 and company.json()["name"] == "CRONUS USA, Inc."


def test_a_bad_option_fails_with_the_output(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match="rate_limit must be a number >= 1"):
        EmulatorHandle.start(entries=10, state_dir=tmp_path, rate_limit=0)


@pytest.mark.parametrize(
    ("stop", "exit_code"), [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 0)], ids=["SIGTERM", "SIGINT"]
)
def test_a_signal_removes_the_temp_state_dir_and_the_env_file(
    tmp_path: Path, stop: signal.Signals, exit_code: int
) -> None:
    temp, ready, env_file = tmp_path / "temp", tmp_path / "ready.json", tmp_path / "bc.env"
    temp.mkdir()
    command = [sys.executable, "-m", "airflow_provider_bc.testing.emulator", "--entries", "30"]
    command += ["--ready-file", str(ready), "--env-file", str(env_file), "--no-access-log"]  # no --state-dir
    process = subprocess.Popen(
        command, env={**os.environ, "TMPDIR": str(temp)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the emulator did not start"
        state_dir = Path(json.loads(ready.read_text())["ca_bundle"]).parent
        assert state_dir.parent == temp and (state_dir / "server.pem").exists()  # holds the private key
        _assert_env_file_describes(env_file, json.loads(ready.read_text()))
        process.send_signal(stop)
        _, errors = process.communicate(timeout=30)
    finally:
        process.kill()  # only if a step above failed: it has ended otherwise
    assert list(temp.iterdir()) == [] and not env_file.exists()
    assert process.returncode == exit_code, errors
    assert "Traceback" not in errors


def _assert_env_file_describes(env_file: Path, info: dict[str, Any]) -> None:
    """``source``-ing the env file gives the connection, URL and CA bundle of the running emulator."""
    assert env_file.stat().st_mode & 0o077 == 0  # it holds the client secret
    names = ("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", "BC_EMULATOR_URL", "BC_EMULATOR_CA")
    script = f"source {shlex.quote(str(env_file))} && " + " && ".join(f'printf "%s\\0" "${name}"' for name in names)
    values = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split("\0")
    assert json.loads(values[0]) == info["connection"]
    assert values[1:3] == [info["base_url"], info["ca_bundle"]]
    assert (
        requests.get(f"{values[1]}/_emulator/info", verify=values[2], timeout=10).json()["tenant_id"]
        == info["tenant_id"]
    )


def test_handle_helpers(bc_emulator: EmulatorHandle) -> None:
    assert bc_emulator.api_url() == f"{bc_emulator.base_url}/v2.0/{bc_emulator.tenant_id}/production/api/v2.0"
    assert bc_emulator.api_url(tenant=False) == f"{bc_emulator.base_url}/v2.0/production/api/v2.0"
    connection = bc_emulator.airflow_connection(company_id="other", timeout=5)
    assert connection["extra"]["company_id"] == "other" and connection["extra"]["timeout"] == 5
    assert bc_emulator.airflow_connection()["extra"]["company_id"] == bc_emulator.default_company_id
    assert json.loads(bc_emulator.airflow_connection_env()) == bc_emulator.airflow_connection()
    assert bc_emulator.companies[0] == {"id": bc_emulator.default_company_id, "name": "CRONUS USA, Inc."}
    assert Path(bc_emulator.ca_bundle).read_text().startswith("-----BEGIN CERTIFICATE-----")
