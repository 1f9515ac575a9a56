"""The README's demo command runs the example DAGs as expected (as `python3 dev.py demo` does): each to
success, but for the reconciliation after one difference of each kind was made, which fails and says so;
last, entries posted start the event-driven example's runs on Airflow run as processes. It says where it
writes (absolute paths, at the start and in its summary) and counts in the right number ("1 file")."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

DEMO = REPO / ".demo"
#: what the demo says it writes where, at the start and in its summary: label -> path (a file if .db)
WHERE = {
    "Airflow home": DEMO / "airflow-home",
    "Airflow metadata DB (SQLite)": DEMO / "airflow-home" / "airflow.db",
    "Airflow task logs folder": DEMO / "airflow-home" / "logs",
    "extraction lake": DEMO / "lake",
    "reconciliation warehouse (SQLite)": DEMO / "warehouse.db",
    "reconciliation reports": DEMO / "reports",
    "event-driven step, Airflow home": DEMO / "event-driven" / "airflow-home",
    "event-driven step, Airflow processes' logs": DEMO / "event-driven" / "logs",
    "event-driven step, extraction lake": DEMO / "event-driven" / "lake",
}


def assert_paths_said(block: str) -> None:
    """``block`` names every path of :data:`WHERE`, absolute, on a line of its own; each exists now."""
    for label, path in WHERE.items():
        said = re.findall(rf"^  {re.escape(label)}: (\S+)", block, re.MULTILINE)
        assert said == [str(path)], (label, block)
        assert path.is_absolute() and (path.is_file() if path.suffix == ".db" else path.is_dir()), path


def test_demo_runs_every_example_dag_as_expected() -> None:
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
    # where it writes: said first, before anything runs, and again in the summary at the end
    start, rest = out.stdout.split(f"Where the demo writes (under {DEMO}, removed when the demo starts again):\n", 1)
    assert "Emulator at" not in start and "===" not in start, start
    assert_paths_said(rest.split("Emulator at", 1)[0])
    _, summary = out.stdout.split("=== Summary ===")
    assert_paths_said(summary.split(f"What the demo wrote (under {DEMO}, removed when the demo starts again):\n")[1])
    assert summary.rstrip().endswith("Every example DAG ran as expected against the emulator.")
    # counts in the right number: a company of 200 entries is extracted into one file
    assert not re.findall(r"\b1 (?:files|rows|entries|events|gaps|bytes)\b", out.stdout)
    assert re.search(r"company \S+: 200 rows in 1 file \(", out.stdout)
    for dag_id in ("bc_fetch_item_ledger_entry", "bc_wait_for_posting"):
        assert f"{dag_id}: success" in out.stdout
    assert '"id": "44a76d24-52ff-eb11-bb76-000d3a220646"' in out.stdout  # the documented entry, via HTTPS
    # the reconciliation: a clean load passes; one difference of each kind fails the rerun, as announced
    assert "bc_reconcile_item_ledger (extract, load, reconcile): success" in out.stdout
    assert "bc_reconcile_item_ledger (one difference of each kind): failed, as expected" in out.stdout
    assert "This run is expected to FAIL" in out.stdout
    clean, seeded = out.stdout.split("one difference of each kind, the warehouse reconciled as it is")
    assert "Business Central 5 rows, warehouse 5 rows; missing 0, extra 0" in clean
    assert "changed 0, totals 0; 0 gaps" in clean
    assert "Business Central 5 rows, warehouse 6 rows; missing 1, extra 1" in seeded  # + the posting, - deleted
    assert "duplicate_warehouse 1, changed 1, totals 7; 3 gaps" in seeded  # the skipped numbers: not missing
    assert "changed: entry 19999 quantity" in seeded  # the cost within tolerance is not reported
    reports = re.findall(r"Report: (\S+/report\.html)", out.stdout)
    assert len(reports) == 2 and all(Path(r).is_file() and Path(r).is_relative_to(DEMO) for r in reports)
    failed = json.loads(Path(reports[1]).with_name("report.json").read_text())
    assert failed["samples"]["missing"] == [19997] and failed["samples"]["extra"] == [19996]
    assert "bc_extract_item_ledger (first run): success" in out.stdout
    assert "bc_extract_item_ledger (second run): success" in out.stdout
    first, second = out.stdout.split("the next run reads only what changed")
    # the seed, less the entry the reconciliation deleted, plus the one it posted and the one the wait DAG posted
    assert re.search(r"company \S+: 20,001 rows in \d+ files? ", first)
    # the second run: the modified entry, and the entries posted today (restated: posted in the last 3 days)
    changed = [int(n.replace(",", "")) for n in re.findall(r"company \S+: ([\d,]+) rows? in", second)]
    assert sum(changed) == 5, second
    # the event-driven example on Airflow as processes: the postings start runs extracting exactly them
    _, events = out.stdout.split("=== bc_extract_posted_entries: Airflow as processes")
    posted = re.findall(r"\[emulator\] posted entries (\d+)\.\.(\d+) in ", events)
    assert posted == [("201", "203"), ("204", "205")], events  # a seeded company of 200 entries
    runs = re.findall(
        r"  run (asset_triggered__\S+): (\w+); signalled entries (\d+)\.\.(\d+) \(.*?\); (\d+) extracted into "
        r"(\S+); started ([\d.]+) s after its last entry was posted",
        events,
    )
    assert runs and all(state == "success" for _, state, *_ in runs), events
    # their ranges adjoin and cover exactly the posted entries (two runs, unless a posting straddled a poll)
    ranges = sorted((int(low), int(high)) for _, _, low, high, *_ in runs)
    assert ranges[0][0] == 201 and ranges[-1][1] == 205, ranges
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges)), ranges
    assert all(int(rows) == int(high) - int(low) + 1 for _, _, low, high, rows, *_ in runs), events
    for run_id, *_, folder, started in runs:
        assert Path(folder).is_relative_to(DEMO / "event-driven" / "lake")
        assert float(started) < 30  # a 2 s poll, then the scheduler
        assert f"bc_extract_posted_entries ({run_id}): success" in out.stdout
    assert "bc_extract_posted_entries (every posted entry extracted once): success" in out.stdout
    assert "Airflow's processes are stopped" in events
    assert (DEMO / "event-driven" / "logs" / "triggerer.log").is_file()
    # the event-driven runs' task logs are in its own home, not in that of the dag.test() runs
    assert (DEMO / "event-driven" / "airflow-home" / "logs" / "dag_id=bc_extract_posted_entries").is_dir()
    assert not (DEMO / "airflow-home" / "logs" / "dag_id=bc_extract_posted_entries").exists()
    assert "Every example DAG ran as expected" in out.stdout
