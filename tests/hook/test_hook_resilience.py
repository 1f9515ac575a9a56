"""Throttling, outages and token expiry through the hook (the fault matrix in tests/faults/ covers
each kind of failure on the client's sync and async paths)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_bc.client.errors import BusinessCentralError, BusinessCentralThrottledError
from airflow_provider_bc.hooks.business_central import BusinessCentralHook

DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"


def test_msal_renews_a_short_lived_token_before_business_central_sees_it_expire(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    # MSAL treats a token expiring within 5 minutes as expired: a 2-second token is renewed before
    # each page, so this never reaches the 401 path (the next test does).
    bc_emulator.configure(token_lifetime=2)
    bc_connection("bc_short_tokens", fresh_client=True)
    pages = BusinessCentralHook("bc_short_tokens").iter_pages(
        "itemLedgerEntries", filter="entryNumber le 5000", select="id", page_size=1_000
    )
    assert sum(len(page.entities) for page in pages) == 5_000
    statuses = [r["status"] for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntries"]
    assert statuses == [200] * 5
    assert bc_emulator.stats()["tokens_issued"] == 5


def test_a_long_read_survives_a_token_revoked_mid_way(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    conn = bc_connection("bc_revoked_mid_read", fresh_client=True)
    pages = BusinessCentralHook("bc_revoked_mid_read").iter_pages(
        "itemLedgerEntries", filter="entryNumber le 5000", select="id", page_size=1_000
    )
    ids = [e["id"] for e in next(pages).entities]
    bc_emulator.revoke_tokens(conn["login"])  # MSAL still holds the token Business Central now refuses
    ids += [e["id"] for page in pages for e in page.entities]
    assert len(ids) == len(set(ids)) == 5_000
    statuses = [r["status"] for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntries"]
    assert statuses == [200, 401, 200, 200, 200, 200]
    assert bc_emulator.stats()["tokens_issued"] == 2


def test_a_rejected_token_is_replaced_once(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection("bc_revoked", fresh_client=True)
    hook = BusinessCentralHook("bc_revoked")
    hook.get_item_ledger_entry(DOCUMENTED_ID)
    bc_emulator.add_fault(401, count=1, route="itemLedgerEntry")
    assert hook.get_item_ledger_entry(DOCUMENTED_ID)["id"] == DOCUMENTED_ID
    assert bc_emulator.stats()["tokens_issued"] == 2
    bc_emulator.add_fault(401, count=2, route="itemLedgerEntry")
    with pytest.raises(BusinessCentralError) as caught:
        hook.get_item_ledger_entry(DOCUMENTED_ID)
    assert caught.value.status == 401 and caught.value.code == "Authentication_InvalidCredentials"


def test_outage_beyond_the_retry_budget(bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]) -> None:
    bc_connection(max_retries=2)
    bc_emulator.add_fault(503, count=10, route="itemLedgerEntry", retry_after=0)
    with pytest.raises(BusinessCentralThrottledError) as caught:
        BusinessCentralHook().get_item_ledger_entry(DOCUMENTED_ID)
    error = caught.value
    assert error.status == 503 and error.code and error.request_id and error.correlation_id
    assert error.transient
    assert bc_emulator.stats()["requests"]["itemLedgerEntry"]["503"] == 3


def test_dropped_connections_and_html_pages_are_retried(
    bc_emulator: Any, bc_connection: Callable[..., dict[str, Any]]
) -> None:
    bc_connection()
    bc_emulator.add_fault("drop", count=1, route="itemLedgerEntry")
    bc_emulator.add_fault("html", count=1, route="itemLedgerEntry")
    bc_emulator.add_fault("cut", count=1, route="itemLedgerEntry")
    assert BusinessCentralHook().get_item_ledger_entry(DOCUMENTED_ID)["entryNumber"] == 1
    statuses = [r["status"] for r in bc_emulator.recent_requests() if r["route"] == "itemLedgerEntry"]
    assert statuses == [0, 502, 0, 200]  # dropped, HTML page, cut mid-body, served
