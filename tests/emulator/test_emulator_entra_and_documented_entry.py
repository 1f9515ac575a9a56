"""A real MSAL client against the Entra stand-in, then Microsoft's documented entry over real HTTPS."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
import msal
import pytest
import requests

DATA_FILE = Path(__file__).parent / "data" / "documented_item_ledger_entry.json"
# A verbatim copy of Microsoft's "Get itemLedgerEntries" page (shared/reference/seed-get-item-ledger-entries.md).
REFERENCE = Path(__file__).parent / "data" / "get_item_ledger_entries_reference.md"
BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
ODATA_JSON = "application/json; odata.metadata=minimal; odata.streaming=true"


@pytest.fixture
def msal_app(bc_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A ConfidentialClientApplication for a freshly registered client (empty token cache).

    MSAL puts ``verify`` on a requests Session, which loses against REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
    from the environment, so those are removed for the test.
    """
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)

    def build(client_id: str, secret: str, tenant: str | None = None) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=f"{bc_emulator.authority}/{tenant or bc_emulator.tenant_id}",
            verify=bc_emulator.ca_bundle,
            instance_discovery=False,
        )

    return build


@pytest.fixture(scope="module")
def documented() -> dict[str, Any]:
    return dict(json.loads(DATA_FILE.read_text(encoding="utf-8")))


def test_data_file_is_the_reference_example(documented: dict[str, Any]) -> None:
    blocks = re.findall(r"```json\n(\{.*?)```", REFERENCE.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1
    assert json.loads(blocks[0]) == documented
    assert len(documented) == 15


def test_msal_token_then_the_documented_entry(bc_emulator: Any, msal_app: Any, documented: dict[str, Any]) -> None:
    client_id, secret = bc_emulator.register_client()
    result = msal_app(client_id, secret).acquire_token_for_client(scopes=[BC_SCOPE])
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3000
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://api.businesscentral.dynamics.com"
    assert claims["tid"] == bc_emulator.tenant_id and claims["appid"] == client_id
    response = requests.get(
        f"{bc_emulator.api_url()}/companies({bc_emulator.default_company_id})"
        f"/itemLedgerEntries({bc_emulator.documented_entry_id})",
        headers={"Authorization": f"Bearer {result['access_token']}"},
        verify=bc_emulator.ca_bundle,
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == ODATA_JSON
    assert response.headers["OData-Version"] == "4.0"
    assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["Request-Id"])
    assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["ms-correlation-x"])
    body = response.json()
    assert body.pop("@odata.context").endswith(
        "/$metadata#companies(3e5a0f1c-52ff-eb11-bb76-000d3a220646)/itemLedgerEntries/$entity"
    )
    assert body == documented
    assert list(body) == list(documented)  # field order too
    assert isinstance(body["quantity"], int) and isinstance(body["salesAmountActual"], int)
    assert bc_emulator.stats()["tokens_issued"] == 1


def test_the_three_url_forms_return_the_same_entity(api: Any, documented: dict[str, Any]) -> None:
    entry = f"itemLedgerEntries({documented['id']})"
    company = api.emulator.default_company_id
    forms = [
        api.get(f"/companies({company})/{entry}"),
        api.get(api.emulator.api_url(tenant=False) + f"/companies({company})/{entry}"),
        api.get(f"/{entry}", params={"company": company}),
        api.get(f"/{entry}?company={quote('CRONUS USA, Inc.')}"),
        api.get(
            f"{api.emulator.base_url}/v2.0/{api.emulator.tenant_domain}/production/api/v2.0/companies({company})/{entry}"
        ),
        api.get(f"{api.emulator.base_url}/v2.0/{api.emulator.tenant_id}/sandbox/api/v2.0/companies({company})/{entry}"),
    ]
    assert [r.status_code for r in forms] == [200] * len(forms)
    for response in forms:
        body = response.json()
        body.pop("@odata.context")
        assert body == documented


def test_wrong_secret_through_msal(bc_emulator: Any, msal_app: Any) -> None:
    client_id, _ = bc_emulator.register_client()
    result = msal_app(client_id, "not-the-secret").acquire_token_for_client(scopes=[BC_SCOPE])
    assert "access_token" not in result
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert result["error_codes"] == [7000215]
    assert re.search(r"Trace ID: \S+ Correlation ID: \S+ Timestamp: ", result["error_description"])
    assert bc_emulator.stats()["requests"]["token"] == {"401": 1}


def test_msal_with_the_tenant_domain(bc_emulator: Any, msal_app: Any) -> None:
    app = msal_app(bc_emulator.client_id, bc_emulator.client_secret, tenant=bc_emulator.tenant_domain)
    assert "access_token" in app.acquire_token_for_client(scopes=[BC_SCOPE])


def test_discovery_of_an_unknown_tenant(bc_emulator: Any, msal_app: Any) -> None:
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal_app(bc_emulator.client_id, bc_emulator.client_secret, tenant="contoso.onmicrosoft.com")
    response = requests.get(
        f"{bc_emulator.authority}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
        verify=bc_emulator.ca_bundle,
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]
    assert bc_emulator.stats()["requests"]["discovery"] == {"400": 2}


def _token_request(emulator: Any, tenant: str | None = None, **form: str) -> requests.Response:
    fields = {
        "grant_type": "client_credentials",
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "scope": BC_SCOPE,
    }
    return requests.post(
        f"{emulator.authority}/{tenant or emulator.tenant_id}/oauth2/v2.0/token",
        data={**fields, **form},
        verify=emulator.ca_bundle,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("tenant", "form", "status", "error", "code"),
    [
        ("nosuch.onmicrosoft.com", {}, 400, "invalid_request", 90002),
        (None, {"client_id": "00000000-0000-0000-0000-000000000000"}, 400, "unauthorized_client", 700016),
        (None, {"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        (None, {"client_secret": ""}, 401, "invalid_client", 7000216),
        (None, {"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        (None, {"scope": "https://api.businesscentral.dynamics.com/user_impersonation"}, 400, "invalid_scope", 1002012),
    ],
    ids=["unknown-tenant", "unknown-client", "wrong-secret", "no-secret", "grant-type", "scope"],
)
def test_token_endpoint_errors(
    bc_emulator: Any, tenant: str | None, form: dict[str, str], status: int, error: str, code: int
) -> None:
    response = _token_request(bc_emulator, tenant, **form)
    assert response.status_code == status
    body = response.json()
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert bc_emulator.stats()["tokens_issued"] == 0


def test_token_response_shape_and_lifetime(bc_emulator: Any) -> None:
    bc_emulator.configure(token_lifetime=120)
    response = _token_request(bc_emulator)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == ("Bearer", 120, 120)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert 120 <= claims["exp"] - claims["iat"] <= 121
    assert {"aud", "tid", "appid", "exp", "iat", "jti"} <= set(claims)
