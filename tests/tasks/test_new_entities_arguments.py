"""``BusinessCentralNewEntitiesTrigger``'s arguments (``airflow_provider_bc.triggers.new_entities``), on every
Airflow CI runs: on Airflow 2 the class imports and making one is refused saying why; on Airflow 3 each bad
argument is refused naming it, before anything is polled."""

from __future__ import annotations

from typing import Any

import airflow.triggers.base
import pytest

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.triggers.new_entities import BusinessCentralNewEntitiesTrigger

COMPANY = "3e5a0f1c-52ff-eb11-bb76-000d3a220646"
AIRFLOW_3 = hasattr(airflow.triggers.base, "BaseEventTrigger")


@pytest.mark.skipif(AIRFLOW_3, reason="Airflow 2's refusal; Airflow 3 makes it (the tests below)")
def test_airflow_2_imports_the_class_and_refuses_to_make_one() -> None:
    with pytest.raises(BusinessCentralQueryError, match=r"needs Airflow 3\.0 or later") as refused:
        BusinessCentralNewEntitiesTrigger(company_id=COMPANY)
    assert refused.value.field == "BusinessCentralNewEntitiesTrigger"


@pytest.mark.skipif(not AIRFLOW_3, reason="asset watchers need Airflow 3 (the test above)")
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"company_id": "not-a-guid"}, "company_id"),
        ({"entity_set": "item Ledger'Entries"}, "entity_set"),
        ({"watermark_field": "postingDate"}, "watermark_field"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": float("nan")}, "poll_interval"),
        ({"poll_interval": True}, "poll_interval"),
        ({"commit_lag": -1}, "commit_lag"),
        ({"start": "yesterday"}, "start"),
        ({"start": -5}, "start"),
        ({"watermark_field": "lastModifiedDateTime", "start": "2024-01-01T00:00:00"}, "start"),
    ],
)
def test_a_bad_argument_is_refused_naming_it(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(BusinessCentralQueryError) as refused:
        BusinessCentralNewEntitiesTrigger(**{"company_id": COMPANY, **arguments})
    assert refused.value.field == field, str(refused.value)


@pytest.mark.skipif(not AIRFLOW_3, reason="asset watchers need Airflow 3")
def test_the_watermark_field_follows_the_entity_set_and_start_takes_text() -> None:
    ledger = BusinessCentralNewEntitiesTrigger(company_id=COMPANY.upper(), start=" 42 ")
    assert (ledger.watermark_field, ledger.start, ledger.company_id) == ("entryNumber", 42, COMPANY)
    customers = BusinessCentralNewEntitiesTrigger(
        company_id=COMPANY, entity_set="customers", start="2024-01-01T00:00:00+02:00"
    )
    assert (customers.watermark_field, customers.start) == ("lastModifiedDateTime", "2023-12-31T22:00:00Z")
    assert ledger.shared_stream_key() == BusinessCentralNewEntitiesTrigger(company_id=COMPANY).shared_stream_key()
    assert (
        ledger.shared_stream_key()
        != BusinessCentralNewEntitiesTrigger(company_id=COMPANY, poll_interval=5).shared_stream_key()
    )
