"""``python -m airflow_provider_bc.testing.emulator``: run the emulator in the foreground.

Without the ``[emulator]`` extra it says which extra to install and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from pathlib import Path

from .extra import exit_without_emulator_extra
from .settings import RuntimeConfig, ServerOptions


def parse_args(argv: list[str] | None = None) -> tuple[ServerOptions, RuntimeConfig]:
    """The server options and start configuration from the command line."""
    defaults = RuntimeConfig()
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_bc.testing.emulator",
        description="A local Business Central API v2.0 + Microsoft Entra ID emulator over HTTPS.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--entries", type=int, default=1000, help="item ledger entries of the default company")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    parser.add_argument("--latency", type=float, default=defaults.latency, help="seconds added per API request")
    parser.add_argument("--rate-limit", type=int, default=defaults.rate_limit, help="requests per window")
    parser.add_argument("--rate-window", type=float, default=defaults.rate_window, help="window in seconds")
    parser.add_argument(
        "--max-concurrent", type=int, default=defaults.max_concurrent, help="API requests at once per principal"
    )
    parser.add_argument(
        "--queue-size", type=int, default=defaults.queue_size, help="API requests queued per principal; beyond: 429"
    )
    parser.add_argument("--token-lifetime", type=int, default=defaults.token_lifetime, help="seconds")
    parser.add_argument(
        "--bandwidth",
        type=int,
        default=defaults.bandwidth,
        metavar="BYTES_PER_S",
        help="the most bytes per second of each API answer's body, per call (BC: about 2 MB/s); 0: no limit",
    )
    parser.add_argument(
        "--on-premises-valid-audiences",
        default=defaults.on_premises_valid_audiences,
        metavar="AUDIENCES",
        help="the on-premises instance trusts Entra ID: bearer tokens for these ';'-separated audiences are "
        "accepted on /{instance}/api/v2.0 besides Basic (BC's ValidAudiences); empty (default): Basic only",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where to keep the CA bundle, certificates, client applications and changed entries; a later "
        "start on the same directory reuses them (default: a new temp dir)",
    )
    parser.add_argument("--ready-file", type=Path, help="write the connection details here as JSON when ready")
    parser.add_argument(
        "--env-file",
        type=Path,
        help="when ready, write shell exports here (AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT, BC_EMULATOR_URL, "
        "BC_EMULATOR_CA) for `source`; removed when the emulator stops",
    )
    parser.add_argument("--no-access-log", dest="access_log", action="store_false", help="no access log")
    args = parser.parse_args(argv)
    config = RuntimeConfig()
    try:
        config.apply({name: getattr(args, name) for name in config.as_dict()})
    except ValueError as exc:
        parser.error(str(exc))
    # each start option is the command-line option of the same name
    options = ServerOptions(**{field.name: getattr(args, field.name) for field in dataclasses.fields(ServerOptions)})
    return options, config


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    options, config = parse_args(argv)
    exit_without_emulator_extra()
    from .server import run

    with contextlib.suppress(KeyboardInterrupt):
        run(options, config)


if __name__ == "__main__":
    main()
