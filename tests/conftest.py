"""Test-session setup: a throw-away AIRFLOW_HOME with a SQLite metadata DB, set before Airflow loads."""

from __future__ import annotations

import os
import tempfile

_home = tempfile.mkdtemp(prefix="bc-airflow-home-")
os.environ["AIRFLOW_HOME"] = _home
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home}/airflow.db"
os.environ.pop("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", None)
