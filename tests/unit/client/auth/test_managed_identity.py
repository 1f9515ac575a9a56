"""``airflow_provider_bc.client.auth.managed_identity``: ManagedIdentitySource with real MSAL and no network.
MSAL is pointed at an App Service-style endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER); each GET it sends is
answered by hand (requests' HTTP adapter replaced), and what it asked for is kept."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from airflow_provider_bc.client.auth.managed_identity import ManagedIdentitySource
from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError, BusinessCentralThrottledError
from tests.support import offline_settings, without_managed_identity

ENDPOINT = "https://msi.app-service.test/msi/token"
RESOURCE_ID = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/airflow"
    "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/bc-reader"
)


class Host:
    """The host's managed identity endpoint: answers each GET with the next of ``replies`` (a JSON payload, or
    a status and a payload) and keeps the query and headers of each. Its bound :meth:`send` replaces
    ``HTTPAdapter.send`` (so it is not handed the adapter)."""

    def __init__(self) -> None:
        self.replies: list[Any] = []
        self.asked: list[dict[str, list[str]]] = []
        self.headers: list[CaseInsensitiveDict[str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert (request.url or "").startswith(f"{ENDPOINT}?"), request.url
        self.asked.append(parse_qs(urlsplit(request.url).query))
        self.headers.append(request.headers)
        answer = self.replies.pop(0)
        status, payload = answer if isinstance(answer, tuple) else (200, answer)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(payload).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = request
        return response


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Host:
    without_managed_identity(monkeypatch)
    monkeypatch.setenv("IDENTITY_ENDPOINT", ENDPOINT)
    monkeypatch.setenv("IDENTITY_HEADER", "identity-header-value")
    endpoint = Host()
    monkeypatch.setattr(HTTPAdapter, "send", endpoint.send)
    return endpoint


def token(name: str = "mi-token", seconds: int = 3600) -> dict[str, Any]:
    """An App Service token answer (``expires_on``: an instant, as text)."""
    return {
        "access_token": name,
        "expires_on": str(int(time.time()) + seconds),
        "resource": "https://api.businesscentral.dynamics.com",
        "token_type": "Bearer",
    }


def source(client_id: str = "", **overrides: Any) -> ManagedIdentitySource:
    return ManagedIdentitySource(
        offline_settings(auth_type="managed_identity", client_id=client_id, client_secret="", **overrides)
    )


CLIENT_ID = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("login", "selector"),
    [
        ("", {}),  # the system-assigned identity: no selector at all
        (CLIENT_ID, {"client_id": [CLIENT_ID]}),
        (RESOURCE_ID, {"mi_res_id": [RESOURCE_ID]}),  # App Service's name for a resource id
    ],
)
def test_the_login_picks_the_identity_asked_for(host: Host, login: str, selector: dict[str, list[str]]) -> None:
    host.replies.append(token())
    result = source(login).acquire_token_for_client(["https://api.businesscentral.dynamics.com/.default"])
    assert result["access_token"] == "mi-token"
    (asked,) = host.asked
    assert asked == {
        "api-version": ["2019-08-01"],
        "resource": ["https://api.businesscentral.dynamics.com"],
        **selector,
    }
    assert host.headers[0]["X-IDENTITY-HEADER"] == "identity-header-value"


def test_the_resource_is_the_scope_without_its_default_suffix_only(host: Host) -> None:
    host.replies.append(token())
    source().acquire_token_for_client(["api://bc-onprem.contoso.local/.default"])
    assert host.asked[0]["resource"] == ["api://bc-onprem.contoso.local"]


def test_a_token_is_cached_until_the_tokens_are_removed(host: Host) -> None:
    host.replies += [token("first"), token("second")]
    mi = source(CLIENT_ID)
    scopes = ["https://api.businesscentral.dynamics.com/.default"]
    first = mi.acquire_token_for_client(scopes)
    again = mi.acquire_token_for_client(scopes)
    assert (first["access_token"], again["access_token"], len(host.asked)) == ("first", "first", 1)
    assert (first["token_source"], again["token_source"]) == ("identity_provider", "cache")
    mi.remove_tokens_for_client()
    renewed = mi.acquire_token_for_client(scopes)
    assert (renewed["access_token"], renewed["token_source"], len(host.asked)) == ("second", "identity_provider", 2)
    assert host.asked[1]["client_id"] == [CLIENT_ID]  # the same identity, asked again


def test_each_source_has_a_token_cache_of_its_own(host: Host) -> None:
    host.replies += [token("for a"), token("for b")]
    scopes = ["https://api.businesscentral.dynamics.com/.default"]
    a, b = source(), source()
    assert a.acquire_token_for_client(scopes)["access_token"] == "for a"
    assert b.acquire_token_for_client(scopes)["access_token"] == "for b"
    assert len(host.asked) == 2


def test_an_answer_msal_cannot_read_is_a_bad_answer_before_msal_sees_it(host: Host) -> None:
    host.replies.append({"access_token": "mi-token", "expires_on": "tomorrow"})
    with pytest.raises(BusinessCentralBadAnswerError) as caught:
        source().acquire_token_for_client(["https://api.businesscentral.dynamics.com/.default"])
    assert caught.value.message == (
        f"The managed identity endpoint answered HTTP 200 from {ENDPOINT} with an answer MSAL cannot read: "
        "'expires_on' is not a whole number of seconds ('tomorrow')"
    )
    assert "mi-token" not in str(caught.value)


def test_an_outage_of_the_endpoint_is_transient(host: Host) -> None:
    host.replies.append((503, {"statusCode": 503, "message": "busy"}))
    with pytest.raises(BusinessCentralThrottledError) as caught:
        source().acquire_token_for_client(["https://api.businesscentral.dynamics.com/.default"])
    assert (caught.value.status, caught.value.code) == (503, "managed identity outage")


def test_a_refusal_is_handed_back_as_msal_reads_it(host: Host) -> None:
    host.replies.append((400, {"statusCode": 400, "message": "No managed identity with that client id"}))
    result = source(CLIENT_ID).acquire_token_for_client(["https://api.businesscentral.dynamics.com/.default"])
    assert "access_token" not in result
    assert result["error"] == "invalid_scope"  # MSAL's reading of App Service's refusals
    assert "No managed identity with that client id" in result["error_description"]


def test_the_settings_timeouts_reach_the_endpoint(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    answer = host.send

    def recording(adapter: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        seen.update(kwargs)
        return answer(request, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", recording)
    host.replies.append(token())
    source(connect_timeout=2.5, read_timeout=17.0).acquire_token_for_client(["https://x.test/.default"])
    assert seen["timeout"] == (2.5, 17.0)
