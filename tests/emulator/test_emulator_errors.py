"""Authentication failures, missing resources and rejected OData, each answered the way BC answers."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

MISSING = "00000000-0000-0000-0000-000000000001"
DOCUMENTED_ID = "44a76d24-52ff-eb11-bb76-000d3a220646"


def test_no_token(api: Any) -> None:
    response = api.get("/companies", token="")
    api.assert_error(response, 401, "Authentication_InvalidCredentials")
    assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


def test_expired_token(api: Any) -> None:
    api.emulator.configure(token_lifetime=1)
    token = api.emulator.token()
    assert api.get("/companies", token=token).status_code == 200
    time.sleep(2.1)  # exp is rounded up to whole seconds, so at most 2 s after issuing
    response = api.get("/companies", token=token)
    api.assert_error(response, 401, "Authentication_InvalidCredentials")
    assert 'error_description="The token is expired"' in response.headers["WWW-Authenticate"]


def test_wrong_audience(api: Any) -> None:
    token = api.emulator.token(scope="https://graph.microsoft.com/.default")
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "https://graph.microsoft.com"
    response = api.get("/companies", token=token)
    api.assert_error(response, 401, "Authentication_InvalidCredentials")
    assert "audience" in response.headers["WWW-Authenticate"]


def test_forged_token(api: Any) -> None:
    claims = jwt.decode(api.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-emulator-key-but-long-enough-for-hs256", algorithm="HS256")
    api.assert_error(api.get("/companies", token=forged), 401, "Authentication_InvalidCredentials")


def test_another_tenant_in_the_url(api: Any) -> None:
    url = f"{api.emulator.base_url}/v2.0/contoso.onmicrosoft.com/production/api/v2.0/companies"
    api.assert_error(api.get(url), 401, "Authentication_InvalidCredentials")


def test_unknown_entry(api: Any) -> None:
    message = api.assert_error(api.get(f"{api.entries_path()}({MISSING})"), 404, "Internal_RecordNotFound")
    assert MISSING in message


def test_unknown_company(api: Any) -> None:
    message = api.assert_error(api.get(api.entries_path(MISSING)), 404, "Internal_CompanyNotFound")
    assert MISSING in message
    by_name = api.get("/itemLedgerEntries", {"company": "No Such Company"})
    assert "No Such Company" in api.assert_error(by_name, 404, "Internal_CompanyNotFound")


def test_unknown_environment_is_named(api: Any) -> None:
    url = f"{api.emulator.base_url}/v2.0/{api.emulator.tenant_id}/nosuchenv/api/v2.0/companies"
    assert "'nosuchenv'" in api.assert_error(api.get(url), 404, "BadRequest_ResourceNotFound")


def test_unknown_resource(api: Any) -> None:
    api.assert_error(api.get("/customers"), 404, "BadRequest_NotFound")
    api.assert_error(api.get(f"{api.entries_path()}({DOCUMENTED_ID})/extra"), 404, "BadRequest_NotFound")


def test_malformed_key(api: Any) -> None:
    api.assert_error(api.get(f"{api.entries_path()}(12345)"), 400, "BadRequest_InvalidToken")
    api.assert_error(api.get("/companies('CRONUS USA, Inc.')"), 400, "BadRequest_InvalidToken")


def test_missing_company(api: Any) -> None:
    api.assert_error(api.get("/itemLedgerEntries"), 404, "Internal_CompanyNotFound")


def test_only_get_is_allowed(api: Any) -> None:
    response = api.session.post(
        api.url(api.entries_path()),
        json={},
        headers={"Authorization": f"Bearer {api.token}"},
        verify=api.emulator.ca_bundle,
        timeout=30,
    )
    api.assert_error(response, 405, "BadRequest_MethodNotAllowed")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"$filter": "description eq O'Brien"}, "BadRequest_InvalidRequestUrl"),
        ({"$filter": "description eq 'O'Brien'"}, "BadRequest_InvalidRequestUrl"),
        ({"$filter": "nosuchfield eq 1"}, "BadRequest_InvalidRequestUrl"),
        ({"$filter": "quantity eq 'ten'"}, "BadRequest_InvalidRequestUrl"),
        ({"$filter": "postingDate gt 2024-13-45"}, "BadRequest_InvalidRequestUrl"),
        ({"$filter": "(quantity gt 1"}, "BadRequest_InvalidRequestUrl"),
        ({"$filter": "quantity gt"}, "BadRequest_InvalidRequestUrl"),
        ({"$filter": ""}, "BadRequest_InvalidRequestUrl"),
        ({"$filter": "itemNumber eq '1000' or description eq 'x'"}, "BadRequest_MethodNotImplemented"),
        ({"$filter": "entryType in ('Sale','Purchase')"}, "BadRequest_MethodNotImplemented"),
        ({"$filter": "substringof('x',description)"}, "BadRequest_MethodNotImplemented"),
        ({"$filter": "not (quantity gt 1)"}, "BadRequest_MethodNotImplemented"),
        ({"$filter": "entryType gt 'Sale'"}, "BadRequest_MethodNotImplemented"),
        ({"$select": "id,nosuchfield"}, "BadRequest_InvalidRequestUrl"),
        ({"$orderby": "postingDate sideways"}, "BadRequest_InvalidRequestUrl"),
        ({"$top": "-1"}, "BadRequest_InvalidRequestUrl"),
        ({"$expand": "item"}, "BadRequest_MethodNotImplemented"),
        ({"$skiptoken": "not-a-token"}, "BadRequest_InvalidToken"),
    ],
    ids=lambda value: str(value),
)
def test_rejected_query_options(api: Any, params: dict[str, str], code: str) -> None:
    api.assert_error(api.get(api.entries_path(), params), 400, code)


def test_a_query_option_twice(api: Any) -> None:
    response = api.get(f"{api.entries_path()}?$top=1&$top=2")
    api.assert_error(response, 400, "BadRequest_InvalidRequestUrl")
