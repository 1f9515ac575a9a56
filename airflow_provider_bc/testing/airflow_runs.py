"""Run DAGs for real, offline: a throw-away Airflow home, DAG files loaded by path, ``dag.test()``.

Used by the demo and the test suite; handy in users' own DAG tests too. Works with Airflow 2.11
and 3.x. Call :func:`prepare_airflow_home` before anything imports Airflow.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import runpy
from datetime import datetime
from pathlib import Path
from typing import Any


def prepare_airflow_home(home: Path, *dag_folders: Path) -> None:
    """Point Airflow at ``home`` with a SQLite metadata DB, no example DAGs or default connections,
    the first of ``dag_folders`` as the DAGs folder and one local DAG bundle per folder (Airflow 3's
    ``dag.test()`` runs only DAGs of a configured bundle; Airflow 2 has no bundles).
    Sets environment variables only."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(dag_folders[0])
    bundles = [
        {
            "name": f"dags-{index}-{folder.name}",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(folder)},
        }
        for index, folder in enumerate(dag_folders)
    ]
    os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(bundles)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS"] = "False"  # Airflow 2's db init adds them
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"


def create_metadata_db() -> None:
    """Create the metadata DB's tables (what ``airflow db migrate`` does; ``airflow db init`` in Airflow 2)."""
    from airflow.utils import db

    db.initdb()


def load_dag(path: Path, dag_id: str | None = None) -> Any:
    """The DAG defined in the file at ``path`` (the one named ``dag_id``, or the only one)."""
    from airflow.providers.common.compat.sdk import DAG

    namespace = runpy.run_path(str(path), run_name=f"dag_file_{path.stem}")
    dags = {value.dag_id: value for value in namespace.values() if isinstance(value, DAG)}
    if dag_id is None and len(dags) == 1:
        return next(iter(dags.values()))
    if dag_id not in dags:
        raise LookupError(f"{path} defines DAGs {sorted(dags)}, not {dag_id!r}")
    return dags[dag_id]


def dag_test(dag: Any, *, logical_date: datetime | None = None, run_conf: dict[str, Any] | None = None) -> Any:
    """``dag.test()`` for ``logical_date`` (the keyword Airflow 2 calls ``execution_date``): the DAG run."""
    date_keyword = "logical_date" if "logical_date" in inspect.signature(dag.test).parameters else "execution_date"
    return dag.test(**{date_keyword: logical_date}, run_conf=run_conf)


def xcom_model() -> Any:
    """The ORM model of the metadata DB's ``xcom`` table: ``XComModel`` in Airflow 3, ``XCom`` in Airflow 2."""
    xcom = importlib.import_module("airflow.models.xcom")
    return getattr(xcom, "XComModel", None) or xcom.XCom


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """The XCom ``key`` that ``task_id`` pushed in ``dag_run`` (``None`` when it pushed none)."""
    from airflow.utils.session import create_session
    from sqlalchemy import select

    model = xcom_model()
    # the stored value alone: Airflow 2's XCom objects replace it with a display form when loaded
    query = select(model.value).where(
        model.dag_id == dag_run.dag_id, model.run_id == dag_run.run_id, model.task_id == task_id, model.key == key
    )
    with create_session() as session:
        row = session.execute(query).first()
        return None if row is None else model.deserialize_value(row)


def task_states(dag_run: Any) -> dict[str, str]:
    """task id -> final state of every task instance of ``dag_run``."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}
