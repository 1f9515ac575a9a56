"""A wait for a BatchLookup's keys: min_found checked, what was found kept, the missing ones reported."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_bc.client.batch.lookup import BatchLookup, Progress, check_min_found
from airflow_provider_bc.client.errors import BusinessCentralQueryError


def _by_document(*values: Any) -> BatchLookup:
    return BatchLookup.build("itemLedgerEntries", list(values), "documentNumber")


@pytest.mark.parametrize(("min_found", "needed"), [(None, 3), (1, 1), (3, 3)])
def test_min_found_defaults_to_all_keys(min_found: Any, needed: int) -> None:
    assert check_min_found(min_found, 3) == needed


@pytest.mark.parametrize("min_found", [0, 4, -1, True, 2.0, "2"])
def test_min_found_outside_one_to_the_count_is_refused_naming_it(min_found: Any) -> None:
    with pytest.raises(BusinessCentralQueryError, match="from 1 to 3") as caught:
        check_min_found(min_found, 3)
    assert caught.value.field == "min_found" and repr(min_found) in str(caught.value)


def test_progress_keeps_what_was_found_and_asks_only_for_the_missing_keys() -> None:
    progress = Progress(_by_document("D1", "D2", "D3"))
    assert progress.missing() == ["D1", "D2", "D3"] and not progress.done
    progress.take({"D3": [{"id": "c"}], "D1": [], "D2": None})  # [] and None: not there yet
    assert progress.missing() == ["D1", "D2"] and not progress.done
    progress.take({"D1": [{"id": "a"}]})
    progress.take({"D2": [{"id": "b"}]})
    assert progress.done and progress.missing() == []
    assert list(progress.result()) == ["D1", "D2", "D3"]  # in the order given, not the order found
    assert progress.result()["D3"] == [{"id": "c"}]


def test_progress_with_min_found_is_done_early_and_says_how_many_were_needed() -> None:
    progress = Progress(_by_document("D1", "D2", "D3"), min_found=2)
    progress.take({"D2": [{"id": "b"}]})
    assert not progress.done
    assert progress.report() == "itemLedgerEntries by documentNumber: 1 of 3 found (2 needed); missing 2: D1, D3"
    progress.take({"D3": [{"id": "c"}]})
    assert progress.done and progress.result() == {"D2": [{"id": "b"}], "D3": [{"id": "c"}]}


def test_a_report_names_at_most_twenty_missing_keys() -> None:
    progress = Progress(_by_document(*range(1, 26)))
    progress.take({1: [{"id": "x"}]})
    report = progress.report()
    assert report.startswith("itemLedgerEntries by documentNumber: 1 of 25 found; missing 24: 2, 3,")
    assert report.endswith(", 21 and 4 more") and "22" not in report
    progress.take({key: [{}] for key in range(2, 26)})
    assert progress.report() == "itemLedgerEntries by documentNumber: 25 of 25 found"


def test_a_bad_min_found_fails_the_progress_itself() -> None:
    with pytest.raises(BusinessCentralQueryError) as caught:
        Progress(_by_document("D1"), min_found=2)
    assert caught.value.field == "min_found"
