"""Parse time of a DAG file using this provider's operator and sensor, against the same DAG of
EmptyOperators, side by side in one run. As Airflow's DAG processor does, one interpreter imports
Airflow once and each parse runs in a fresh child forked from it, so every parse imports the
provider anew while the measurement is not drowned in Airflow's own start-up. Bytecode caching is
on (a deployed Airflow has its ``.pyc`` files) and one warm-up parse of each file comes first. The
files alternate, and the ratio is the median of the per-pair ratios, so that machine noise hits
them alike; each parse is timed in CPU seconds of its child.

Two floors are parsed beside them: ``same_api``, classes with this provider's arguments, templated
fields and attributes but no behaviour, in the provider's module layout (what any implementation of
this API pays); ``bare``, a sensor and an operator of one argument each, in the DAG file. Not
modelled: Airflow's DAG processor pre-imports the ``airflow.*`` modules a DAG file names before it
forks (``parsing_pre_import_modules``), which spares the EmptyOperator DAG its one import and no
provider outside ``airflow.*`` its own.

Prints medians, whether msal/requests/httpx got imported, and
``RESULT parse_ratio=<x> same_api_ratio=<x> floor_ratio=<x> provider_ms=<x> empty_ms=<x>``.
POSIX only (it forks)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import runpy
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

HEADER = """
import pendulum
from airflow.providers.common.compat.sdk import DAG
"""
TASKS = """
with DAG("bench", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    for i in range(20):
        wait = Wait(task_id=f"wait_{i}", match={"documentNumber": f"D{i}"})
        entry_id = "{{ ti.xcom_pull('wait_%d')[0]['id'] }}" % i
        get = Get(task_id=f"get_{i}", entry_id=entry_id)
        wait >> get
"""
PROVIDER_DAG = (
    HEADER
    + """
from airflow_provider_bc.operators.business_central import BusinessCentralGetItemLedgerEntryOperator as Get
from airflow_provider_bc.sensors.business_central import BusinessCentralItemLedgerEntrySensor as Wait
"""
    + TASKS
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


# Floors that no provider goes below: a sensor and an operator with no code of their own. "bare": one
# argument each, defined in the DAG file (Airflow's own cost of a sensor, a template field, two classes).
BARE_DAG = (
    HEADER
    + """
from airflow.providers.common.compat.sdk import BaseOperator, BaseSensorOperator

class Wait(BaseSensorOperator):
    template_fields = ("match",)

    def __init__(self, *, match, **kwargs):
        super().__init__(**kwargs)
        self.match = match

class Get(BaseOperator):
    template_fields = ("entry_id",)

    def __init__(self, *, entry_id, **kwargs):
        super().__init__(**kwargs)
        self.entry_id = entry_id
"""
    + TASKS
)
# "same API": the provider's arguments, templated fields and attributes in the provider's module layout
# (a package, its ``operators`` and ``sensors`` packages, one module in each), without any behaviour.
# The package sits beside the DAG file (the DAG folder is on ``sys.path``); its top is imported before
# the parses, as Airflow's providers manager has imported ``airflow_provider_bc`` itself.
SAME_API_PACKAGE = "parse_floor"
SAME_API_MODULES = {
    "__init__": "",
    "operators/__init__": "",
    "sensors/__init__": "",
    "sensors/business_central": """
from airflow.providers.common.compat.sdk import BaseSensorOperator

CONN = "business_central_default"

class Wait(BaseSensorOperator):
    template_fields = ("entity_id", "filter", "match", "company_id", "select")

    def __init__(self, *, entry_id=None, filter=None, match=None, company_id=None, select=None, max_records=1,
                 decode_enum_values=False, business_central_conn_id=CONN, deferrable=None, **kwargs):
        super().__init__(**kwargs)
        self.entity_set, self.entity_id, self.filter, self.match = "itemLedgerEntries", entry_id, filter, match
        self.company_id, self.select, self.max_records = company_id, select, max_records
        self.decode_enum_values, self.deferrable = decode_enum_values, deferrable
        self.business_central_conn_id = business_central_conn_id
""",
    "operators/business_central": """
from airflow.providers.common.compat.sdk import BaseOperator

CONN = "business_central_default"

class Get(BaseOperator):
    template_fields = ("entity_id", "company_id", "select")

    def __init__(self, *, entry_id, company_id=None, select=None, decode_enum_values=False,
                 business_central_conn_id=CONN, **kwargs):
        super().__init__(**kwargs)
        self.entity_set, self.entity_id, self.company_id = "itemLedgerEntries", entry_id, company_id
        self.select, self.decode_enum_values = select, decode_enum_values
        self.business_central_conn_id = business_central_conn_id
""",
}
SAME_API_DAG = (
    HEADER
    + f"""
from {SAME_API_PACKAGE}.operators.business_central import Get
from {SAME_API_PACKAGE}.sensors.business_central import Wait
"""
    + TASKS
)
DAGS = {"provider": PROVIDER_DAG, "same_api": SAME_API_DAG, "bare": BARE_DAG, "empty": EMPTY_DAG}


def parse_in_child(path: Path) -> dict[str, float]:
    """Parse ``path`` in a child forked from this process; what it imported and how long it took."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parse, report, and leave without running the parent's code or cleanup
        try:
            os.close(read_end)
            before = set(sys.modules)
            start = time.process_time()  # CPU time: the parse's own cost, not the waits of a busy machine
            runpy.run_path(str(path))
            elapsed = time.process_time() - start
            added = set(sys.modules) - before
            report = {
                "seconds": elapsed,
                "msal": "msal" in sys.modules,
                "requests_added": "requests" in added,
                "httpx_added": "httpx" in added,
            }
            os.write(write_end, json.dumps(report).encode())
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        report = answer.read()
    _, status = os.waitpid(pid, 0)
    if status:
        sys.exit(f"parsing {path.name} failed in the child (status {status})")
    return dict(json.loads(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="parses of each DAG file, each in a fresh child")
    runs = parser.parse_args().runs
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    import airflow.sdk  # noqa: F401  (the DAG processor has Airflow loaded already)
    from airflow.providers.common.compat.sdk import DAG, BaseOperator, BaseSensorOperator  # noqa: F401

    with tempfile.TemporaryDirectory() as folder:
        for module, source in SAME_API_MODULES.items():
            path = Path(folder, SAME_API_PACKAGE, f"{module}.py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source)
        sys.path.insert(0, folder)  # as Airflow puts the DAG folder on it
        for package in ("airflow_provider_bc", SAME_API_PACKAGE):  # the tops only, as the providers manager has
            importlib.import_module(package)
        paths = {name: Path(folder, f"{name}_dag.py") for name in DAGS}
        for name, path in paths.items():
            path.write_text(DAGS[name])
            parse_in_child(path)  # warm-up: writes the bytecode caches
        results: dict[str, list[dict[str, float]]] = {name: [] for name in DAGS}
        for _ in range(runs):
            for name, path in paths.items():
                results[name].append(parse_in_child(path))
    medians = {name: statistics.median(r["seconds"] for r in rounds) for name, rounds in results.items()}
    ratios = {
        name: statistics.median(a["seconds"] / e["seconds"] for a, e in zip(rounds, results["empty"], strict=True))
        for name, rounds in results.items()
    }
    last = results["provider"][-1]
    print(f"DAG parse CPU time, 40 tasks, median of {runs} parses in fresh children (Airflow already imported):")
    print(f"  provider operators+sensors:        {medians['provider'] * 1000:8.1f} ms  x{ratios['provider']:.3f}")
    print(f"  same API and layout, no behaviour: {medians['same_api'] * 1000:8.1f} ms  x{ratios['same_api']:.3f}")
    print(f"  bare sensor+operator in the file:  {medians['bare'] * 1000:8.1f} ms  x{ratios['bare']:.3f}")
    print(f"  EmptyOperators:                    {medians['empty'] * 1000:8.1f} ms")
    print(
        f"  msal imported: {bool(last['msal'])}; added by the DAG file: requests {bool(last['requests_added'])}, "
        f"httpx {bool(last['httpx_added'])}"
    )
    print(
        f"RESULT parse_ratio={ratios['provider']:.3f} same_api_ratio={ratios['same_api']:.3f} "
        f"floor_ratio={ratios['bare']:.3f} provider_ms={medians['provider'] * 1000:.1f} "
        f"empty_ms={medians['empty'] * 1000:.1f}"
    )


if __name__ == "__main__":
    main()
