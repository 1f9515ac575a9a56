"""Reconciliation of Business Central against a warehouse: no Airflow import (issue 20, in progress)."""
