"""``/$count``, ``$count=true`` (``@odata.count``) and the ``$metadata`` EDMX document."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ElementTree
from decimal import Decimal
from typing import Any

import pytest

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FILTER = "entryType eq 'Sale' and quantity le -10"
# What Business Central declares for the item ledger entry: (Edm type, MaxLength) by property, in order.
ITEM_LEDGER_ENTRY_TYPES = {
    "id": ("Edm.Guid", None),
    "entryNumber": ("Edm.Int32", None),
    "itemNumber": ("Edm.String", "20"),
    "postingDate": ("Edm.Date", None),
    "entryType": ("Microsoft.NAV.itemLedgerEntryType", None),
    "sourceNumber": ("Edm.String", "20"),
    "sourceType": ("Microsoft.NAV.analysisSourceType", None),
    "documentNumber": ("Edm.String", "20"),
    "documentType": ("Microsoft.NAV.itemLedgerDocumentType", None),
    "description": ("Edm.String", "100"),
    "quantity": ("Edm.Decimal", None),
    "salesAmountActual": ("Edm.Decimal", None),
    "costAmountActual": ("Edm.Decimal", None),
    "lastModifiedDateTime": ("Edm.DateTimeOffset", None),
}


def _other_company(api: Any) -> str:
    """A company no test changes (O'Brien & Søn A/S, 200 entries)."""
    return str(api.emulator.companies[2]["id"])


def _entries(api: Any, company: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [e for _, body in api.pages(api.entries_path(company), params) for e in body["value"]]


def _schema(api: Any) -> ElementTree.Element:
    response = api.get("/$metadata")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    (schema,) = root.iter(f"{EDM}Schema")
    assert schema.get("Namespace") == "Microsoft.NAV"
    return schema


def _entity_type(schema: ElementTree.Element, name: str) -> dict[str, ElementTree.Element]:
    """The properties of the entity type ``name``, in document order."""
    (entity_type,) = [t for t in schema.iter(f"{EDM}EntityType") if t.get("Name") == name]
    return {p.get("Name", ""): p for p in entity_type.iter(f"{EDM}Property")}


def test_count_of_a_collection_is_plain_text(api: Any) -> None:
    company = _other_company(api)
    response = api.get(f"{api.entries_path(company)}/$count")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["OData-Version"] == "4.0"
    assert response.text == str(len(_entries(api, company))) == "200"
    assert api.get("/companies/$count").text == str(len(api.get("/companies").json()["value"]))
    by_parameter = api.get("/itemLedgerEntries/$count", {"company": company})
    assert by_parameter.text == response.text
    assert api.emulator.stats()["requests"]["itemLedgerEntries/$count"] == {"200": 2}


def test_count_honours_the_filter(api: Any) -> None:
    company = _other_company(api)
    matching = _entries(api, company, {"$filter": FILTER})
    assert 0 < len(matching) < 200
    assert api.get(f"{api.entries_path(company)}/$count", {"$filter": FILTER}).text == str(len(matching))
    response = api.get(f"{api.entries_path(company)}/$count", {"$filter": "noSuchField eq 1"})
    api.assert_error(response, 400, "BadRequest_InvalidRequestUrl")


def test_count_true_tells_every_page_how_many_match(api: Any) -> None:
    company = _other_company(api)
    matching = _entries(api, company, {"$filter": FILTER})
    pages = api.pages(api.entries_path(company), {"$filter": FILTER, "$count": "true"}, page_size=7)
    assert len(pages) > 1
    assert [body["@odata.count"] for _, body in pages] == [len(matching)] * len(pages)
    assert [e for _, body in pages for e in body["value"]] == matching
    first = api.get(api.entries_path(company), {"$count": "true", "$top": 1, "$select": "id"}).json()
    assert first["@odata.count"] == 200 and len(first["value"]) == 1  # all matching rows, not the page
    assert "@odata.count" not in api.get(api.entries_path(company), {"$count": "false", "$top": 1}).json()


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/itemLedgerEntries/$count", {"$top": "1"}, "BadRequest_MethodNotImplemented"),
        ("/itemLedgerEntries/$count", {"$count": "true"}, "BadRequest_MethodNotImplemented"),
        ("/itemLedgerEntries", {"$count": "yes"}, "BadRequest_InvalidRequestUrl"),
        ("/itemLedgerEntries", {"$count": "true", "$expand": "x"}, "BadRequest_MethodNotImplemented"),
    ],
)
def test_count_options_that_are_refused(api: Any, path: str, params: dict[str, str], code: str) -> None:
    api.assert_error(api.get(f"/companies({_other_company(api)}){path}", params), 400, code)


def test_count_of_an_entity_is_not_a_resource(api: Any) -> None:
    entry = f"{api.entries_path()}({api.emulator.documented_entry_id})/$count"
    api.assert_error(api.get(entry), 404, "BadRequest_NotFound")


def test_metadata_declares_every_property_an_entry_has_with_its_type(api: Any) -> None:
    properties = _entity_type(_schema(api), "itemLedgerEntry")
    entry = api.get(f"{api.entries_path()}({api.emulator.documented_entry_id})").json()
    assert list(properties) == [name for name in entry if not name.startswith("@")] == list(ITEM_LEDGER_ENTRY_TYPES)
    declared = {name: (p.get("Type"), p.get("MaxLength")) for name, p in properties.items()}
    assert declared == ITEM_LEDGER_ENTRY_TYPES
    assert {name: p.get("Scale") for name, p in properties.items() if p.get("Type") == "Edm.Decimal"} == {
        "quantity": "Variable",
        "salesAmountActual": "Variable",
        "costAmountActual": "Variable",
    }
    assert properties["id"].get("Nullable") == "false"


def _conforms(value: Any, edm_type: str, max_length: str | None, enums: dict[str, set[str]]) -> bool:
    """Whether a JSON value is of the declared type (and length)."""
    if edm_type in enums:
        return value in enums[edm_type]
    checks = {
        "Edm.Guid": lambda v: isinstance(v, str) and GUID.fullmatch(v) is not None,
        "Edm.Int32": lambda v: isinstance(v, int) and -(2**31) <= v < 2**31,
        "Edm.String": lambda v: isinstance(v, str) and (max_length is None or len(v) <= int(max_length)),
        "Edm.Date": lambda v: dt.date.fromisoformat(v).isoformat() == v,
        "Edm.Decimal": lambda v: isinstance(v, int | Decimal) and not isinstance(v, bool),
        "Edm.DateTimeOffset": lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00")).tzinfo is not None,
    }
    return bool(checks[edm_type](value))


def test_every_entry_conforms_to_the_metadata(api: Any) -> None:
    schema = _schema(api)
    enums = {
        f"Microsoft.NAV.{e.get('Name')}": {m.get("Name", "") for m in e.iter(f"{EDM}Member")}
        for e in schema.iter(f"{EDM}EnumType")
    }
    assert set(enums) == {t for t, _ in ITEM_LEDGER_ENTRY_TYPES.values() if t.startswith("Microsoft.NAV.")}
    assert "Positive_x0020_Adjmt_x002E_" in enums["Microsoft.NAV.itemLedgerEntryType"]
    properties = _entity_type(schema, "itemLedgerEntry")
    declared = {name: (p.get("Type", ""), p.get("MaxLength")) for name, p in properties.items()}
    for company in api.emulator.companies:
        pages = api.pages(api.entries_path(company["id"]))
        entries = [e for response, _ in pages for e in response.json(parse_float=Decimal)["value"]]
        wrong = [
            (entry["entryNumber"], name, entry[name])
            for entry in entries
            for name, (edm_type, max_length) in declared.items()
            if not _conforms(entry[name], edm_type, max_length, enums)
        ]
        assert entries and wrong == []


def test_metadata_declares_the_companies_and_the_entity_sets(api: Any) -> None:
    schema = _schema(api)
    company = api.get("/companies").json()["value"][0]
    properties = _entity_type(schema, "company")
    assert list(properties) == [name for name in company if not name.startswith("@")]
    assert properties["systemModifiedAt"].get("Type") == "Edm.DateTimeOffset"
    assert properties["name"].get("MaxLength") == "30"
    (container,) = schema.iter(f"{EDM}EntityContainer")
    sets = {s.get("Name"): s.get("EntityType") for s in container.iter(f"{EDM}EntitySet")}
    assert sets == {"companies": "Microsoft.NAV.company", "itemLedgerEntries": "Microsoft.NAV.itemLedgerEntry"}
    (navigation,) = schema.iter(f"{EDM}NavigationProperty")
    assert navigation.attrib == {
        "Name": "itemLedgerEntries",
        "Type": "Collection(Microsoft.NAV.itemLedgerEntry)",
        "ContainsTarget": "true",
    }


def test_metadata_needs_a_token_and_a_known_environment(api: Any) -> None:
    api.assert_error(api.get("/$metadata", token=""), 401, "Authentication_InvalidCredentials")
    response = api.get(api.emulator.api_url(tenant=False).replace("/production/", "/nowhere/") + "/$metadata")
    api.assert_error(response, 404, "BadRequest_ResourceNotFound")
    assert api.get(api.emulator.api_url(tenant=False) + "/$metadata").status_code == 200
    assert api.emulator.stats()["requests"]["$metadata"] == {"401": 1, "404": 1, "200": 1}


def test_json_rewriting_faults_leave_text_and_xml_answers_alone(api: Any) -> None:
    count_path = f"{api.entries_path(_other_company(api))}/$count"
    api.emulator.add_fault("next_link", route="itemLedgerEntries/$count", next_link="https://elsewhere.invalid/")
    api.emulator.add_fault("value", route="$metadata", value=[])
    assert api.get(count_path).text == "200"
    faulted = api.get("/$metadata")
    assert faulted.status_code == 200 and faulted.content == api.get("/$metadata").content
    assert api.emulator.stats()["faults_pending"] == []  # both were used, on answers they do not change
