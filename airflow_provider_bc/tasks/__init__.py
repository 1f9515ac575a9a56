"""What the operators, sensors, triggers and transfers share: their arguments, the mapping of client
errors to Airflow outcomes, and waiting. Imported by their methods, never at DAG parse."""
