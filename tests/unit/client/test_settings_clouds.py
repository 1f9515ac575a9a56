"""Authority, API host and scope: Business Central online lives in Microsoft's global cloud only, so a
national cloud's Entra ID needs an on-premises host; a host with an instance path is on-premises."""

from __future__ import annotations

import pytest

from airflow_provider_bc.client.errors import BusinessCentralConfigError
from airflow_provider_bc.client.odata.urls import ApiUrls
from tests.support import offline_settings

ON_PREMISES = "https://bc.contoso.local:7048/BC"


@pytest.mark.parametrize(
    "authority",
    [
        "https://login.microsoftonline.us",
        "https://login.partner.microsoftonline.cn/",
        "https://LOGIN.MICROSOFTONLINE.US",
    ],
)
def test_a_national_cloud_authority_with_business_central_online_is_refused(authority: str) -> None:
    with pytest.raises(BusinessCentralConfigError) as caught:
        offline_settings(authority=authority, source="connection 'bc'")
    assert caught.value.field == "authority"
    message = str(caught.value)
    assert "Business Central online runs in Microsoft's global cloud only" in message
    assert "set the connection's host to the on-premises server" in message and "'bc'" in message


def test_a_national_cloud_authority_with_an_on_premises_host_is_used_together_with_host_and_scope() -> None:
    settings = offline_settings(
        authority="https://login.microsoftonline.us", api_host=ON_PREMISES, scope="api://bc-server/.default"
    )
    assert settings.authority_url == "https://login.microsoftonline.us/contoso.onmicrosoft.com"
    assert settings.on_premises and ApiUrls(settings).service_root == f"{ON_PREMISES}/api/v2.0"
    assert settings.scope == "api://bc-server/.default"


@pytest.mark.parametrize("authority", ["https://login.microsoft.com", "https://entra-proxy.contoso.com"])
def test_global_or_unknown_authority_hosts_are_not_judged(authority: str) -> None:
    assert offline_settings(authority=authority).authority == authority


def test_a_host_without_a_path_keeps_the_online_layout_and_a_path_means_on_premises() -> None:
    proxy = offline_settings(api_host="https://bc-gateway.contoso.com/")
    assert not proxy.on_premises
    assert ApiUrls(proxy).service_root == (
        "https://bc-gateway.contoso.com/v2.0/contoso.onmicrosoft.com/production/api/v2.0"
    )
    assert offline_settings(api_host=f"{ON_PREMISES}/").on_premises
