"""What the operators, sensors, triggers and transfers share: their arguments (``entity_arguments``,
loaded at DAG parse, imports nothing), client errors as Airflow outcomes and waiting (loaded when a
task runs)."""
