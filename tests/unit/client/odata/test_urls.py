"""API URLs: what is built for an environment from checked values, and which nextLinks the token may follow."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_bc.client.errors import (
    BusinessCentralBadAnswerError,
    BusinessCentralConfigError,
    BusinessCentralUnsafeLinkError,
)
from airflow_provider_bc.client.odata.urls import ApiUrls, origin_of
from airflow_provider_bc.client.settings import ClientSettings
from airflow_provider_bc.client.values import CompanyId, EntityId, EntitySet
from tests.support import offline_settings

COMPANY = "44a76d24-52ff-eb11-bb76-000d3a220646"
ENTRY = "0f8fad5b-d9cb-469f-a165-70867728950e"


def settings(**overrides: Any) -> ClientSettings:
    return offline_settings(**{"company_id": COMPANY, **overrides})


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://API.Example.COM/v2.0/x", ("https", "api.example.com", 443)),
        ("HTTPS://api.example.com:8443", ("https", "api.example.com", 8443)),
        ("http://api.example.com/", ("http", "api.example.com", 80)),
        ("http://api.example.com:443/", ("http", "api.example.com", 443)),
        ("ftp://api.example.com/", ("ftp", "api.example.com", 0)),
        ("https://[::1]:9000/x", ("https", "::1", 9000)),
        ("/relative/path", ("", "", 0)),
    ],
)
def test_origin_of(url: str, origin: tuple[str, str, int]) -> None:
    assert origin_of(url) == origin


def test_origin_of_refuses_a_port_that_is_not_a_port() -> None:
    with pytest.raises(ValueError):
        origin_of("https://api.example.com:99999/")
    with pytest.raises(ValueError):
        origin_of("https://api.example.com:port/")


def test_the_urls_of_an_environment() -> None:
    urls = ApiUrls(settings(environment="sandbox-2", api_host="https://bc.example.com:8443/"))
    root = "https://bc.example.com:8443/v2.0/contoso.onmicrosoft.com/sandbox-2/api/v2.0"
    assert urls.service_root == root
    assert urls.origin == ("https", "bc.example.com", 8443)
    assert urls.companies() == f"{root}/companies"
    assert urls.entity_set(EntitySet.of("itemLedgerEntries")) == f"{root}/companies({COMPANY})/itemLedgerEntries"
    assert (
        urls.entity(EntitySet.of("items"), EntityId.of(ENTRY.upper())) == f"{root}/companies({COMPANY})/items({ENTRY})"
    )


def test_a_custom_api_route_is_part_of_the_service_root() -> None:
    urls = ApiUrls(settings(api_route="api/contoso/app1/v1.0"))
    assert urls.service_root == (
        "https://api.businesscentral.dynamics.com/v2.0/contoso.onmicrosoft.com/production/api/contoso/app1/v1.0"
    )


def test_the_company_argument_wins_over_the_default() -> None:
    urls = ApiUrls(settings())
    assert urls.company_id(None) == COMPANY
    assert urls.company_id(CompanyId.of(ENTRY.upper())) == ENTRY
    assert f"/companies({ENTRY})/items({COMPANY})" in urls.entity(
        EntitySet.of("items"), EntityId.of(COMPANY), CompanyId.of(ENTRY)
    )


def test_no_company_anywhere_is_a_config_error_naming_the_connection() -> None:
    urls = ApiUrls(settings(company_id=None, source="connection 'bc_prod'"))
    for call in (lambda: urls.company_id(None), lambda: urls.entity_set(EntitySet.of("items"))):
        with pytest.raises(BusinessCentralConfigError) as caught:
            call()
        assert caught.value.field == "company_id"
        assert caught.value.source == "connection 'bc_prod'"
        assert str(caught.value) == (
            "Business Central setting 'company_id' of connection 'bc_prod': "
            "no company given: pass company_id or set extra 'company_id' on the connection"
        )


HOST = "https://bc.example.com:8443"


@pytest.mark.parametrize(
    ("link", "rebuilt"),
    [
        (f"{HOST}/v2.0/t/e/api/v2.0/items?$skiptoken=abc", f"{HOST}/v2.0/t/e/api/v2.0/items?$skiptoken=abc"),
        # the same origin spelled otherwise is rebuilt on the configured spelling
        ("HTTPS://BC.Example.com:8443/v2.0/items?$skiptoken=1", f"{HOST}/v2.0/items?$skiptoken=1"),
        (f"{HOST}/v2.0/items?$skiptoken=1#fragment", f"{HOST}/v2.0/items?$skiptoken=1"),
        (f"{HOST}/v2.0/items", f"{HOST}/v2.0/items"),
    ],
)
def test_a_next_link_on_the_api_origin_is_followed(link: str, rebuilt: str) -> None:
    assert ApiUrls(settings(api_host=HOST)).next_link(link) == rebuilt


def test_a_next_link_naming_the_default_port_is_on_the_origin() -> None:
    urls = ApiUrls(settings(api_host="https://bc.example.com"))
    assert (
        urls.next_link("https://bc.example.com:443/v2.0/x?$skiptoken=1") == "https://bc.example.com/v2.0/x?$skiptoken=1"
    )


@pytest.mark.parametrize(
    "link",
    [
        "https://elsewhere.example:8443/v2.0/items?$skiptoken=1",
        "https://bc.example.com/v2.0/items?$skiptoken=1",  # the default port is another port
        "https://bc.example.com:8444/v2.0/items?$skiptoken=1",
        "http://bc.example.com:8443/v2.0/items?$skiptoken=1",
        "https://user@bc.example.com:8443/v2.0/items",
        "https://:pw@bc.example.com:8443/v2.0/items",
        "https://user:pw@bc.example.com:8443/v2.0/items",
        "https://bc.example.com:99999/v2.0/items",
        "https://bc.example.com:x/v2.0/items",
        "https://[bc.example.com:8443/v2.0/items",
        "https://bc.example.com:8443\\@elsewhere.example/v2.0/items",
        "https://bc.example.com:8443/v2.0/items?$skiptoken=a b",
        "https://bc.example.com:8443/v2.0/items?$skiptoken=1\r\nHost: elsewhere",
        "https://bc.example.com:8443/v2.0/items?$skiptoken=1\tx",
        "https://bc.example.com:8443/v2.0/items?$skiptoken=1\x00",
        "https://bc.example.com:8443/v2.0/items?$skiptoken=1\x7f",
        "/v2.0/items?$skiptoken=1",
    ],
)
def test_a_next_link_anywhere_else_is_refused(link: str) -> None:
    with pytest.raises(BusinessCentralUnsafeLinkError) as caught:
        ApiUrls(settings(api_host=HOST)).next_link(link)
    assert str(caught.value) == (
        f"refusing to send the bearer token to {link!r}: it is not on the configured API origin {HOST!r}"
    )


def test_a_refused_link_is_shown_cut_to_200_characters() -> None:
    link = "https://elsewhere.example/" + "a" * 174 + "|" + "b" * 300
    with pytest.raises(BusinessCentralUnsafeLinkError) as caught:
        ApiUrls(settings(api_host=HOST)).next_link(link)
    assert f"to {link[:200]!r}: it is" in str(caught.value)


@pytest.mark.parametrize("link", ["", None, 42, ["https://bc.example.com:8443/x"]])
def test_a_next_link_that_is_not_a_url_is_a_bad_answer(link: object) -> None:
    with pytest.raises(BusinessCentralBadAnswerError) as caught:
        ApiUrls(settings(api_host=HOST)).next_link(link)
    assert str(caught.value) == f"the page's @odata.nextLink is not a URL: {str(link)[:200]!r}"


def test_a_long_non_url_next_link_is_shown_cut_to_200_characters() -> None:
    link = ["x" * 300]
    with pytest.raises(BusinessCentralBadAnswerError) as caught:
        ApiUrls(settings(api_host=HOST)).next_link(link)
    assert str(caught.value) == f"the page's @odata.nextLink is not a URL: {str(link)[:200]!r}"
