"""What the operators and sensors share when they run (imported by their methods, never at DAG
parse): client errors as the task's failure, a check that waits out what may pass, deferral after a
first check, a trigger's event as the task's outcome."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout, conf

from airflow_provider_bc.client.errors import BusinessCentralError
from airflow_provider_bc.tasks.outcomes import may_succeed_later, task_failure

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseSensorOperator, Context

T = TypeVar("T")


@contextmanager
def failing_task(task_id: str) -> Iterator[None]:
    """Raise what the task raises (:func:`~.outcomes.task_failure`) for a client error in the block."""
    try:
        yield
    except BusinessCentralError as error:
        raise task_failure(error, task_id) from None


def check_or_wait(check: Callable[[], T], task_id: str, log: Any) -> T | None:
    """``check()``; ``None`` after an error that may pass (logged: the sensor checks again), the
    task's failure for any other."""
    try:
        return check()
    except BusinessCentralError as error:
        if not may_succeed_later(error):
            raise task_failure(error, task_id) from None
        log.warning("Business Central is not answering properly; will check again: %s", error)
        return None


def defers(deferrable: bool | None) -> bool:
    """A sensor's ``deferrable``; when not given, Airflow's ``[operators] default_deferrable``, read as
    the task runs (a read at import would be paid by every DAG file's parse)."""
    if deferrable is None:
        return bool(conf.getboolean("operators", "default_deferrable", fallback=False))
    return deferrable


def execute_deferrable(sensor: BaseSensorOperator, context: Context, trigger: Callable[[float], Any]) -> Any:
    """Check once; if not done, defer to ``trigger(timeout)`` for at most the sensor's ``timeout``
    (resuming in ``execute_complete``)."""
    first = sensor.poke(context)
    if first:  # a PokeReturnValue is true when done
        return getattr(first, "xcom_value", None)
    timeout = float(sensor.timeout)
    sensor.defer(trigger=trigger(timeout), method_name="execute_complete", timeout=timedelta(seconds=timeout))


def trigger_result(event: Mapping[str, Any], task_id: str, timeout: float) -> Mapping[str, Any]:
    """A success event as it is; else the timeout or the failure (no retries: waiting could not fix it)."""
    status = event.get("status")
    if status == "success":
        return event
    if status == "timeout":
        raise AirflowSensorTimeout(f"{task_id}: {event.get('message')} (timeout {timeout} s)")
    # the trigger only gives up on errors that waiting cannot fix: no task retries either
    raise AirflowFailException(f"{task_id}: {event.get('message', event)}")
