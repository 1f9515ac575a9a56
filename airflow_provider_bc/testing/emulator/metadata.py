"""The service's ``$metadata``: an EDMX (OData CSDL XML) document generated from :mod:`.schema`.

Like Business Central's, one schema ``Microsoft.NAV`` declares the entity types (key ``id``), the AL
enums as ``EnumType`` elements, the company's contained entity sets as navigation properties, and an
``EntityContainer`` ``NAV`` with every entity set.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

from .schema import KEY, EntitySet, EnumType, Field, Kind

EDMX_NAMESPACE = "http://docs.oasis-open.org/odata/ns/edmx"
EDM_NAMESPACE = "http://docs.oasis-open.org/odata/ns/edm"
NAMESPACE = "Microsoft.NAV"
XML_TYPE = "application/xml; charset=utf-8"
_EDM_TYPES = {
    Kind.GUID: "Edm.Guid",
    Kind.STRING: "Edm.String",
    Kind.INTEGER: "Edm.Int32",
    Kind.DECIMAL: "Edm.Decimal",
    Kind.DATE: "Edm.Date",
    Kind.DATETIME: "Edm.DateTimeOffset",
}


def edm_type(field: Field) -> str:
    """The type ``$metadata`` declares for ``field``: an Edm primitive, or ``Microsoft.NAV.<enum>``."""
    return f"{NAMESPACE}.{field.enum.name}" if field.enum is not None else _EDM_TYPES[field.kind]


def _property(entity_type: ElementTree.Element, field: Field) -> None:
    attributes = {"Name": field.name, "Type": edm_type(field)}
    if field.name == "id":
        attributes["Nullable"] = "false"
    if field.max_length is not None:
        attributes["MaxLength"] = str(field.max_length)
    if field.kind is Kind.DECIMAL:
        attributes["Scale"] = "Variable"
    ElementTree.SubElement(entity_type, "Property", attributes)


def _enum_type(schema: ElementTree.Element, enum: EnumType) -> None:
    element = ElementTree.SubElement(schema, "EnumType", {"Name": enum.name})
    for name, (_, value) in zip(enum.values, enum.members, strict=True):
        ElementTree.SubElement(element, "Member", {"Name": name, "Value": str(value)})


def _entity_type(schema: ElementTree.Element, entity_set: EntitySet, contained: Sequence[EntitySet]) -> None:
    entity_type = ElementTree.SubElement(schema, "EntityType", {"Name": entity_set.entity_type})
    ElementTree.SubElement(ElementTree.SubElement(entity_type, "Key"), "PropertyRef", {"Name": KEY.name})
    for field in entity_set.fields:
        _property(entity_type, field)
    for inner in contained:
        navigation = {"Name": inner.name, "Type": f"Collection({NAMESPACE}.{inner.entity_type})"}
        ElementTree.SubElement(entity_type, "NavigationProperty", {**navigation, "ContainsTarget": "true"})


def edmx(companies: EntitySet, company_scoped: Sequence[EntitySet]) -> bytes:
    """The EDMX document of the ``companies`` entity set and those inside a company."""
    root = ElementTree.Element("edmx:Edmx", {"Version": "4.0", "xmlns:edmx": EDMX_NAMESPACE})
    services = ElementTree.SubElement(root, "edmx:DataServices")
    schema = ElementTree.SubElement(services, "Schema", {"Namespace": NAMESPACE, "xmlns": EDM_NAMESPACE})
    entity_sets = (companies, *company_scoped)
    for entity_set in entity_sets:
        _entity_type(schema, entity_set, company_scoped if entity_set is companies else ())
    enums = {field.enum.name: field.enum for s in entity_sets for field in s.fields if field.enum is not None}
    for enum in enums.values():
        _enum_type(schema, enum)
    container = ElementTree.SubElement(schema, "EntityContainer", {"Name": "NAV"})
    for entity_set in entity_sets:
        type_name = f"{NAMESPACE}.{entity_set.entity_type}"
        ElementTree.SubElement(container, "EntitySet", {"Name": entity_set.name, "EntityType": type_name})
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))
