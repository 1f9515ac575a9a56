"""Parse time of a DAG file using this provider's operator and sensor, against the same DAG of
EmptyOperators, each parsed in fresh interpreters that already have Airflow imported (as the DAG
processor does), side by side in one run. Bytecode caching is on for the probes (a deployed
Airflow has its ``.pyc`` files; ``PYTHONDONTWRITEBYTECODE`` would make every run compile the
provider from source) and one warm-up parse of each file comes first.

Prints medians, whether msal/requests/httpx got imported, and ``RESULT parse_ratio=<x>``."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HEADER = """
import pendulum
from airflow.providers.common.compat.sdk import DAG
"""
PROVIDER_DAG = (
    HEADER
    + """
from airflow_provider_bc.operators.business_central import BusinessCentralGetItemLedgerEntryOperator
from airflow_provider_bc.sensors.business_central import BusinessCentralItemLedgerEntrySensor

with DAG("bench", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    for i in range(20):
        wait = BusinessCentralItemLedgerEntrySensor(task_id=f"wait_{i}", match={"documentNumber": f"D{i}"})
        entry_id = "{{ ti.xcom_pull('wait_%d')[0]['id'] }}" % i
        get = BusinessCentralGetItemLedgerEntryOperator(task_id=f"get_{i}", entry_id=entry_id)
        wait >> get
"""
)
EMPTY_DAG = (
    HEADER
    + """
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("bench", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    for i in range(20):
        wait = EmptyOperator(task_id=f"wait_{i}")
        get = EmptyOperator(task_id=f"get_{i}")
        wait >> get
"""
)
PROBE = textwrap.dedent(
    """
    import json, runpy, sys, time
    import airflow.sdk  # the DAG processor has Airflow loaded already
    from airflow.providers.common.compat.sdk import DAG, BaseOperator, BaseSensorOperator
    before = set(sys.modules)
    start = time.perf_counter()
    runpy.run_path(sys.argv[1])
    elapsed = time.perf_counter() - start
    added = set(sys.modules) - before
    print(json.dumps({"seconds": elapsed, "msal": "msal" in sys.modules, "requests_added": "requests" in added,
                      "httpx_added": "httpx" in added, "modules_added": len(added)}))
    """
)


def parse_once(path: Path) -> dict[str, float]:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True, env=env)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per DAG file")
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        provider, empty = Path(folder, "provider_dag.py"), Path(folder, "empty_dag.py")
        provider.write_text(PROVIDER_DAG)
        empty.write_text(EMPTY_DAG)
        parse_once(provider), parse_once(empty)  # warm-up: writes the bytecode caches
        results: dict[str, list[dict[str, float]]] = {"provider": [], "empty": []}
        for _ in range(runs):  # interleaved, so that machine noise hits both alike
            results["provider"].append(parse_once(provider))
            results["empty"].append(parse_once(empty))
    medians = {name: statistics.median(r["seconds"] for r in runs) for name, runs in results.items()}
    last = results["provider"][-1]
    print(f"DAG parse time, 40 tasks, median of {runs} fresh interpreters (Airflow already imported):")
    print(f"  provider operators+sensors: {medians['provider'] * 1000:8.1f} ms")
    print(f"  EmptyOperators:             {medians['empty'] * 1000:8.1f} ms")
    print(
        f"  msal imported: {bool(last['msal'])}; added by the DAG file: requests {bool(last['requests_added'])}, "
        f"httpx {bool(last['httpx_added'])}"
    )
    ratio = medians["provider"] / medians["empty"]
    provider_ms, empty_ms = medians["provider"] * 1000, medians["empty"] * 1000
    print(f"RESULT parse_ratio={ratio:.3f} provider_ms={provider_ms:.1f} empty_ms={empty_ms:.1f}")


if __name__ == "__main__":
    main()
