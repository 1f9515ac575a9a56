"""Testing helpers: the Business Central emulator and its pytest fixtures, DAG runs with ``dag.test()``
(:mod:`.airflow_runs`) and a whole Airflow 3 run as processes (:mod:`.airflow_processes`)."""
