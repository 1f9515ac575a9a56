"""A sensor that waits until a set of Business Central entities exists: poke, reschedule or deferrable.

A module of its own: DAG files importing ``sensors.business_central`` do not pay for it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseSensorOperator

from airflow_provider_bc.hooks.names import DEFAULT_CONN_ID
from airflow_provider_bc.tasks.entity_arguments import EntitySetArguments

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, PokeReturnValue

    from airflow_provider_bc.client.batch.lookup import Progress


class BusinessCentralEntitiesSensor(EntitySetArguments, BaseSensorOperator):
    """Wait until every entity of a set exists (or ``min_found`` of them): by id, or by the values
    of one field (``match={"documentNumber": ["108001", "108002"]}``).

    Each check reads the missing ones in ``$batch`` requests (up to 100 reads each) and logs which
    are still missing (the first 20, and how many). In poke mode and in the trigger the ones found
    are kept and only the missing are asked again; in reschedule mode every check asks for all (a
    task keeps nothing between runs). The XCom value is a dict of those found: ``{id: entity}``, or
    ``{value: [matching entities]}``. Errors as :class:`BusinessCentralEntitySensor`'s: throttling
    and outages are logged and waited out; a malformed or empty argument, wrong credentials or
    permissions fail the task at once.

    :param entity_set: entity set, e.g. ``itemLedgerEntries`` (templated)
    :param entity_ids: list of ids (GUIDs) to wait for (templated; e.g. an upstream task's ``.output``)
    :param match: one field and a list of its values, ``{"documentNumber": [...]}`` (templated)
    :param min_found: succeed once this many of them exist (default: all)
    :param company_id: company GUID; defaults to the connection's (templated)
    :param select: fields to return (templated)
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``, read when the task runs)
    """

    template_fields: Sequence[str] = ("entity_set", "entity_ids", "match", "company_id", "select")
    ui_color = "#00b7c3"

    def __init__(
        self,
        *,
        entity_set: str,
        entity_ids: Sequence[str] | None = None,
        match: Mapping[str, Sequence[Any]] | None = None,
        min_found: int | None = None,
        company_id: str | None = None,
        select: Sequence[str] | str | None = None,
        business_central_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (entity_ids is None) == (match is None):
            from airflow_provider_bc.client.errors import BusinessCentralQueryError

            raise BusinessCentralQueryError("entity_ids", "give entity_ids or match, exactly one of them")
        self._keep_set_arguments(entity_set, company_id, select, business_central_conn_id)
        self.entity_ids = entity_ids
        self.match = match
        self.min_found = min_found
        self.deferrable = deferrable
        self._progress: Progress | None = None

    def _new_progress(self) -> Progress:
        """A wait for the rendered arguments, checked (a bad one fails the task)."""
        from airflow_provider_bc.client.batch.lookup import BatchLookup, Progress
        from airflow_provider_bc.tasks.waiting import failing_task

        with failing_task(self.task_id):
            options: dict[str, Any] = {"company_id": self.company_id, "select": self.select}
            if self.entity_ids is not None:
                lookup = BatchLookup.build(self.entity_set, self.entity_ids, **options)
            else:
                lookup = BatchLookup.from_match(self.entity_set, self.match, **options)
            return Progress(lookup, self.min_found)

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow.providers.common.compat.sdk import PokeReturnValue

        from airflow_provider_bc.hooks.business_central import BusinessCentralHook
        from airflow_provider_bc.tasks.waiting import check_or_wait

        progress = self._progress = self._progress or self._new_progress()
        client = BusinessCentralHook(self.business_central_conn_id).client
        found = check_or_wait(lambda: client.read_keys(progress.lookup, progress.missing()), self.task_id, self.log)
        progress.take(found or {})
        self.log.info("%s", progress.report())
        return PokeReturnValue(is_done=progress.done, xcom_value=progress.result() if progress.done else None)

    def execute(self, context: Context) -> Any:
        from airflow_provider_bc.tasks.waiting import defers, execute_deferrable

        if not defers(self.deferrable):
            return super().execute(context)
        from airflow_provider_bc.triggers.business_central import BusinessCentralEntitiesTrigger

        def trigger(timeout: float) -> BusinessCentralEntitiesTrigger:
            progress = self._progress or self._new_progress()
            return BusinessCentralEntitiesTrigger.waiting_for(
                progress.lookup,
                min_found=self.min_found,
                business_central_conn_id=self.business_central_conn_id,
                poll_interval=float(self.poke_interval),
                timeout=timeout,
            )

        return execute_deferrable(self, context, trigger)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger fired: return what it found, or fail with its reason."""
        from airflow_provider_bc.tasks.waiting import trigger_result

        return {key: found for key, found in trigger_result(event, self.task_id, self.timeout)["found"]}
