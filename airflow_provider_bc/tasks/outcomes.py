"""The one mapping of client errors to Airflow outcomes, for operators, sensors and triggers."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.client.http.exchange import is_entity_missing


def may_succeed_later(error: BusinessCentralError) -> bool:
    """Whether asking again later may work: throttling, outages, dropped or garbled answers, and an
    entity that does not exist yet. A sensor keeps waiting on these; a task retry may cure them."""
    return error.transient or is_entity_missing(error)


def task_failure(error: BusinessCentralError, task_id: str) -> BaseException:
    """What a task raises for ``error``: the error itself when Airflow's task retries may help,
    else :class:`AirflowFailException` (bad arguments, settings, credentials, permissions, TLS)."""
    if may_succeed_later(error):
        return error
    return AirflowFailException(f"{task_id}: {error} [{type(error).__name__}: retrying cannot help]")
