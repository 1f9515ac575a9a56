"""Connection -> settings: every bad field is named, with the connection id, before any request."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_bc.client.errors import (
    BusinessCentralBadAnswerError,
    BusinessCentralConfigError,
    BusinessCentralUnsafeLinkError,
)
from airflow_provider_bc.client.odata.urls import ApiUrls
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.hooks.connection_settings import settings_from_connection

GOOD: dict[str, Any] = {
    "login": "11111111-2222-3333-4444-555555555555",
    "password": "not-a-real-secret",
    "host": None,
    "extra": {"tenant_id": "contoso.onmicrosoft.com", "company_id": "44a76d24-52ff-eb11-bb76-000d3a220646"},
}


def build(**changes: Any) -> ClientSettings:
    fields = {**GOOD, **{k: v for k, v in changes.items() if k != "extra"}}
    fields["extra"] = {**GOOD["extra"], **changes.get("extra", {})}
    return settings_from_connection("bc_prod", **fields)


def test_defaults_point_at_business_central_online() -> None:
    settings = build()
    assert settings.api_host == "https://api.businesscentral.dynamics.com"
    assert settings.authority_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert settings.scope == "https://api.businesscentral.dynamics.com/.default"
    assert ApiUrls(settings).service_root == (
        "https://api.businesscentral.dynamics.com/v2.0/contoso.onmicrosoft.com/production/api/v2.0"
    )
    assert "not-a-real-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"login": ""}, "client_id"),
        ({"password": None}, "client_secret"),
        ({"extra": {"tenant_id": ""}}, "tenant_id"),
        ({"extra": {"tenant_id": "contoso/../x"}}, "tenant_id"),
        ({"extra": {"company_id": "CRONUS USA, Inc."}}, "company_id"),
        ({"extra": {"environment": "prod/../x"}}, "environment"),
        ({"extra": {"environment": "my env"}}, "environment"),
        ({"extra": {"api_route": "api/v2.0/../../x"}}, "api_route"),
        ({"extra": {"api_route": "odata"}}, "api_route"),
        ({"host": "http://api.businesscentral.dynamics.com"}, "api_host"),
        ({"extra": {"authority": "login.microsoftonline.com"}}, "authority"),
        ({"extra": {"scope": "https://api.businesscentral.dynamics.com/user_impersonation"}}, "scope"),
        ({"extra": {"verify": "/no/such/ca.pem"}}, "verify"),
        ({"extra": {"timeout": "soon"}}, "timeout"),
        ({"extra": {"read_only_intent": "maybe"}}, "read_only_intent"),
        ({"extra": {"proxies": "{not json"}}, "proxies"),
        ({"extra": {"proxies": '["http://proxy:3128"]'}}, "proxies"),
    ],
)
def test_bad_connection_names_the_field_and_connection(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(BusinessCentralConfigError) as caught:
        build(**changes)
    assert caught.value.field == field
    assert f"'{field}'" in str(caught.value)
    assert "'bc_prod'" in str(caught.value)
    assert "not-a-real-secret" not in str(caught.value)


def test_legacy_prefixed_extra_fields_are_read() -> None:
    settings = settings_from_connection(
        "old",
        login="id",
        password="pw",
        host=None,
        extra={"extra__business_central__tenant_id": "t.onmicrosoft.com", "extra__business_central__verify": "false"},
    )
    assert settings.tenant_id == "t.onmicrosoft.com"
    assert settings.verify is False


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/v2.0/x",
        "https://evil.example\\@api.businesscentral.dynamics.com/v2.0/x",
        "https://user:pw@api.businesscentral.dynamics.com/v2.0/x",
        "https://api.businesscentral.dynamics.com:8443/v2.0/x",
        "http://api.businesscentral.dynamics.com/v2.0/x",
        "https://api.businesscentral.dynamics.com/v2.0/x\r\nHost: evil.example",
        "https://api.businesscentral.dynamics.com:99999/v2.0/x",
        "https://api.businesscentral.dynamics.com:port/v2.0/x",
        "https://[api.businesscentral.dynamics.com/v2.0/x",
    ],
)
def test_links_off_the_api_origin_are_refused(link: str) -> None:
    with pytest.raises(BusinessCentralUnsafeLinkError, match="refusing to send the bearer token"):
        ApiUrls(build()).next_link(link)


@pytest.mark.parametrize("link", [None, 42, "", ["https://api.businesscentral.dynamics.com/v2.0/x"]])
def test_next_links_that_are_not_text_are_bad_answers(link: object) -> None:
    with pytest.raises(BusinessCentralBadAnswerError, match="nextLink is not a URL"):
        ApiUrls(build()).next_link(link)


def test_links_on_the_api_origin_keep_path_and_query_only() -> None:
    pinned = ApiUrls(build()).next_link("HTTPS://API.businesscentral.dynamics.com:443/v2.0/x?$skiptoken=a#frag")
    assert pinned == "https://api.businesscentral.dynamics.com/v2.0/x?$skiptoken=a"
