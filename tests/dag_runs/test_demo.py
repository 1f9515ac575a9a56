"""The README's demo command runs the example DAGs to success (as `python3 dev.py demo` does)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.support import REPO


def test_demo_runs_every_example_dag_to_success() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}  # the demo makes its own home
    out = subprocess.run(
        [sys.executable, "-m", "airflow_provider_bc.testing.demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for dag_id in ("bc_fetch_item_ledger_entry", "bc_wait_for_posting", "bc_reconcile_item_ledger"):
        assert f"{dag_id}: success" in out.stdout
    assert '"id": "44a76d24-52ff-eb11-bb76-000d3a220646"' in out.stdout  # the documented entry, via HTTPS
    assert "within tolerance: item 1075 costAmountActual" in out.stdout  # the one planted rounding cent
    assert "bc_extract_item_ledger (first run): success" in out.stdout
    assert "bc_extract_item_ledger (second run): success" in out.stdout
    first, second = out.stdout.split("the next run reads only what changed")
    assert re.search(r"company \S+: 20,001 rows in \d+ files", first)  # the seed and the entry the wait DAG posted
    # the second run: the modified entry, and the entries posted today (restated: posted in the last 3 days)
    changed = [int(n) for n in re.findall(r"company \S+: (\d+) rows in", second)]
    assert sum(changed) == 5, second
    assert "All example DAGs succeeded" in out.stdout
