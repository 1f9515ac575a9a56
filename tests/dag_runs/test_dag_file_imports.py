"""Parsing a DAG file that uses the operator and the sensor stays light: no msal, no httpx of ours."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import EXAMPLE_DAGS

PROBE = """
import json, runpy, sys
# what any DAG file loads, and what this one imports from Airflow (Airflow 3.0's ``task`` brings its core, httpx too)
from airflow.providers.common.compat.sdk import DAG, BaseOperator, BaseSensorOperator, task
baseline = set(sys.modules)
runpy.run_path(sys.argv[1])
print(json.dumps({"baseline": sorted(baseline), "after": sorted(sys.modules)}))
"""


def test_importing_a_dag_with_operator_and_sensor_loads_neither_msal_nor_httpx() -> None:
    dag_file = EXAMPLE_DAGS / "bc_wait_for_posting.py"  # uses both the sensor and the get operator
    out = subprocess.run([sys.executable, "-c", PROBE, str(dag_file)], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    after, added = set(modules["after"]), set(modules["after"]) - set(modules["baseline"])
    assert "airflow_provider_bc.sensors.business_central" in after  # the DAG file really was imported
    assert "airflow_provider_bc.operators.business_central" in after
    assert not {m for m in after if m == "msal" or m.startswith("msal.")}
    # Airflow's own task SDK imports httpx before any DAG file; the provider must add none of it
    assert not {m for m in added if m == "httpx" or m.startswith("httpx.")}
    lazy = {"airflow_provider_bc.client.async_client", "airflow_provider_bc.client.http.async_transport"}
    lazy |= {"airflow_provider_bc.client.auth.tokens", "airflow_provider_bc.triggers.business_central"}
    assert not lazy & after


WATCHER_PROBE = """
import json, runpy, sys
from airflow.providers.common.compat.sdk import DAG, AirflowSkipException, Param, task  # what the file imports
baseline = set(sys.modules)
namespace = runpy.run_path(sys.argv[1])
dags = sorted(value.dag_id for value in namespace.values() if isinstance(value, DAG))
try:
    import airflow.sdk
    watchers = hasattr(airflow.sdk, "AssetWatcher")
except ImportError:
    watchers = False
print(json.dumps({"baseline": sorted(baseline), "after": sorted(sys.modules), "dags": dags, "watchers": watchers}))
"""


def test_the_watched_asset_dag_parses_light_and_only_where_asset_watchers_exist() -> None:
    """``bc_extract_posted_entries`` makes its ``BusinessCentralNewEntitiesTrigger`` at parse time: that
    loads the trigger's module but no client, token or HTTP code; on Airflow 2 the file defines no DAG."""
    dag_file = EXAMPLE_DAGS / "bc_extract_posted_entries.py"
    out = subprocess.run(
        [sys.executable, "-c", WATCHER_PROBE, str(dag_file)], capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    after, added = set(found["after"]), set(found["after"]) - set(found["baseline"])
    assert "airflow_provider_bc.triggers.new_entities" in after
    assert found["dags"] == (["bc_extract_posted_entries"] if found["watchers"] else [])
    assert not {m for m in after if m == "msal" or m.startswith("msal.")}
    assert not {m for m in added if m == "httpx" or m.startswith("httpx.")}
    lazy = {"airflow_provider_bc.client.async_client", "airflow_provider_bc.client.http.async_transport"}
    lazy |= {"airflow_provider_bc.client.auth.tokens", "airflow_provider_bc.triggers.shared_clients"}
    assert not lazy & after
