"""Run DAGs for real, offline: a throw-away Airflow home, DAG files loaded by path, ``dag.test()``.

Used by the demo and the test suite; handy in users' own DAG tests too. Call
:func:`prepare_airflow_home` before anything imports Airflow.
"""

from __future__ import annotations

import json
import os
import runpy
from pathlib import Path
from typing import Any


def prepare_airflow_home(home: Path, *dag_folders: Path) -> None:
    """Point Airflow at ``home`` with a SQLite metadata DB, no example DAGs, and one local DAG
    bundle per folder of ``dag_folders`` (``dag.test()`` runs only DAGs of a configured bundle).
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
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"


def create_metadata_db() -> None:
    """Create the metadata DB's tables (what ``airflow db migrate`` does)."""
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


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """The XCom ``key`` that ``task_id`` pushed in ``dag_run`` (``None`` when it pushed none)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
        row = session.scalars(query).first()
        return None if row is None else XComModel.deserialize_value(row)


def task_states(dag_run: Any) -> dict[str, str]:
    """task id -> final state of every task instance of ``dag_run``."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}
