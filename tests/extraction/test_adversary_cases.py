"""What a second review found by attacking the extraction: data intervals that would skip rows, two
tasks in one run folder, stale restated amounts after a resume, manifests and checkpoints that are
not what a run writes, a wrong ``$count``, arguments that escaped as raw exceptions."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.extraction.cursors import CursorOptions
from airflow_provider_bc.extraction.errors import BusinessCentralDestinationError
from airflow_provider_bc.extraction.run import Extraction
from airflow_provider_bc.testing.emulator import EmulatorHandle
from airflow_provider_bc.transfers.business_central_to_object_storage import BusinessCentralToObjectStorageOperator
from tests.extraction.ledger import clients_for, current_entries, extract, interrupted, ledger_spec, ndjson_rows

HOUR = dt.timedelta(hours=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def interval(start: dt.datetime, end: dt.datetime, **options: Any) -> CursorOptions:
    return CursorOptions(kind="last_modified", interval=(start, end), **options)


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [(-HOUR, -HOUR, "is empty"), (-HOUR, -2 * HOUR, "is empty"), (-HOUR, HOUR, "has not ended")],
)
def test_a_data_interval_that_would_leave_rows_unread_is_refused(
    emulator: EmulatorHandle, tmp_path: Path, start: dt.timedelta, end: dt.timedelta, problem: str
) -> None:
    # Airflow 3's cron schedules give start == end; a run before its interval ended cannot read it all
    at = now()
    with pytest.raises(BusinessCentralQueryError, match=problem) as caught:
        extract(emulator, tmp_path, "interval", cursor=interval(at + start, at + end))
    assert caught.value.field == "use_data_interval"


def test_intervals_skipped_since_the_last_run_are_read_by_the_next(emulator: EmulatorHandle, tmp_path: Path) -> None:
    at = now()
    first, _ = extract(emulator, tmp_path, "first", cursor=interval(at - 6 * HOUR, at - 5 * HOUR))
    stamp = (at - 3 * HOUR).isoformat().replace("+00:00", "Z")
    missed = emulator.insert_entry(description="posted while the DAG was paused", lastModifiedDateTime=stamp)
    # the DAG was paused (or catchup=False): the next run's interval starts hours after the last one's end
    later, folder = extract(emulator, tmp_path, "later", cursor=interval(at - HOUR, at))
    assert later["cursor"]["from"] == first["cursor"]["settled"]
    assert missed["id"] in {row["id"] for row in ndjson_rows(folder, later)}


def test_two_tasks_of_one_dag_run_never_take_each_others_run_folder(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
    context = {"run_id": "scheduled__2024-06-01T00:00:00+00:00"}
    first = BusinessCentralToObjectStorageOperator(
        task_id="low", destination=tmp_path.as_uri(), filter="entryNumber le 100"
    )
    second = BusinessCentralToObjectStorageOperator(
        task_id="high", destination=tmp_path.as_uri(), filter="entryNumber gt 100"
    )
    low = first.execute(context)
    with pytest.raises(AirflowFailException, match=r"holds a run of another extraction.*own run_name"):
        second.execute(context)
    assert first.execute(context) == low  # its own run, complete: untouched
    second.run_name = "scheduled-high"
    assert second.execute(context)["rows"] == len(current_entries(emulator)) - 100


def test_a_resumed_restating_run_plans_again_when_a_later_run_committed_newer_amounts(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    today = now().date()
    posted, *_ = [emulator.insert_entry(postingDate=today.isoformat(), description=f"recent {i}") for i in range(4)]
    at = now()
    options = {"page_size": 1, "rows_per_file": 1, "max_streams": 1}
    first, _ = extract(emulator, tmp_path, "first", cursor=interval(at - 3 * HOUR, at - 2 * HOUR), **options)
    restating = interval(at - 2 * HOUR, at - HOUR, restate_days=3, today=today)
    spec = ledger_spec(emulator, "resumed", cursor=restating, **options)
    destination = interrupted(emulator, tmp_path, spec, pages=2)
    emulator.reset()
    adjusted = emulator.post_cost_adjustment(emulator.default_company_id, posted["id"], Decimal("1000"))
    extract(emulator, tmp_path, "overtaking", cursor=interval(at - HOUR, now(), restate_days=3, today=today), **options)

    resumed = Extraction(spec, destination, clients_for(emulator)).run()
    folder = Path(str(destination).removeprefix("file://")) / "itemLedgerEntries" / f"company={first['company_id']}"
    rows = {row["id"]: row for row in ndjson_rows(folder / "resumed", resumed)}
    assert rows[posted["id"]]["costAmountActual"] == Decimal(str(adjusted["costAmountActual"]))


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"cursor": {"kind": "entry_number", "settled": "abc"}}, "'cursor'"),
        ({"cursor": {"kind": "entry_number", "settled": [1]}}, "'cursor'"),
        ({"cursor": "x"}, "'cursor'"),
        ({"cursor": {"kind": "entry_number", "settled": 5, "open_rows": "abc"}}, "'cursor'"),
        ({"cursor": {"kind": "entry_number", "settled": 5, "open_rows": [["id"]]}}, "'cursor'"),
        ({"run": None}, "'run'"),
        ({"finished": "yesterday"}, "'finished'"),
        ({"source": None}, "'source'"),
        ({"files": [{"name": "part"}]}, "'files'"),
    ],
)
def test_a_manifest_that_no_run_wrote_is_named_not_a_raw_error(
    emulator: EmulatorHandle, tmp_path: Path, edit: dict[str, Any], problem: str
) -> None:
    _, folder = extract(
        emulator, tmp_path, "first", cursor=CursorOptions(kind="entry_number"), filter="entryNumber le 10"
    )
    manifest = json.loads((folder / "_manifest.json").read_text())
    (folder / "_manifest.json").write_text(json.dumps({**manifest, **edit}))
    with pytest.raises(
        BusinessCentralDestinationError, match=f"first/_manifest.json is not a readable.*{problem}"
    ) as caught:
        extract(emulator, tmp_path, "second", cursor=CursorOptions(kind="entry_number"), filter="entryNumber le 10")
    assert not caught.value.transient


@pytest.mark.parametrize("checkpoint", [{}, {"plan": [], "streams": [], "started": "x"}, {"plan": {"series": "s"}}])
def test_a_checkpoint_that_no_run_wrote_starts_the_run_over(
    emulator: EmulatorHandle, tmp_path: Path, checkpoint: dict[str, Any]
) -> None:
    folder = tmp_path / "itemLedgerEntries" / f"company={emulator.default_company_id}" / "odd"
    folder.mkdir(parents=True)
    (folder / "_checkpoint.json").write_text(json.dumps(checkpoint))
    manifest, _ = extract(emulator, tmp_path, "odd", filter="entryNumber le 10")
    assert manifest["rows"] == 10


def test_a_pass_whose_count_says_zero_is_read_all_the_same(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_bc.client.client import BusinessCentralClient

    monkeypatch.setattr(BusinessCentralClient, "count", lambda *args, **kwargs: 0)  # a wrong $count
    manifest, _ = extract(
        emulator, tmp_path, "counted", cursor=CursorOptions(kind="entry_number"), filter="entryNumber le 50"
    )
    assert manifest["rows"] == 50


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": "5000"}, "page_size"),
        ({"page_size": 20_001}, "page_size"),
        ({"cursor": "last_modified", "commit_lag": dt.timedelta(days=800_000)}, "commit_lag"),
        ({"cursor": "last_modified", "restate_days": 1_000_000}, "restate_days"),
        ({"cursor": "entry_number", "cursor_start": "²"}, "cursor_start"),
    ],
)
def test_task_arguments_that_escaped_as_raw_exceptions_name_their_field(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: dict[str, Any], field: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
    # restate_days counts back from the data interval's end: give the run one
    context = {"run_id": "manual", "data_interval_end": now()}
    operator = BusinessCentralToObjectStorageOperator(task_id="extract", destination=tmp_path.as_uri(), **arguments)
    if arguments.get("restate_days"):  # a previous run, so that the restate pass is planned
        BusinessCentralToObjectStorageOperator(
            task_id="extract", destination=tmp_path.as_uri(), cursor="last_modified", filter=None
        ).execute({"run_id": "earlier"})
    with pytest.raises(AirflowFailException, match=rf"\b{field}\b"):
        operator.execute(context)


def test_a_rendered_none_start_is_no_start(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUSINESS_CENTRAL_DEFAULT", emulator.airflow_connection_env())
    operator = BusinessCentralToObjectStorageOperator(
        task_id="extract", destination=tmp_path.as_uri(), cursor_start="None", filter="entryNumber le 5"
    )
    assert operator.execute({"run_id": "manual"})["rows"] == 5
