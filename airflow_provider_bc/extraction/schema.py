"""Entity types from the API's ``$metadata`` (EDMX), and their Arrow schema for Parquet files."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError, BusinessCentralQueryError

if TYPE_CHECKING:
    import pyarrow as pa

#: the row version Business Central sends with each entity, kept in Parquet files as NDJSON keeps it
ETAG = "@odata.etag"
#: Edm.Decimal with Scale="Variable" (what Business Central declares): 20 digits before the point, 18 after
DECIMAL_PRECISION, DECIMAL_SCALE = 38, 18


@dataclass(frozen=True)
class EntityType:
    """The properties of an entity set's type, name -> EDM type (``Edm.Decimal``, an enum's name ...)."""

    entity_set: str
    properties: Mapping[str, str]

    def check_fields(self, fields: Iterable[str], argument: str) -> None:
        """Raise a :class:`BusinessCentralQueryError` naming ``argument`` if a field is not a property."""
        unknown = [name for name in fields if name not in self.properties]
        if unknown:
            raise BusinessCentralQueryError(
                argument, f"{', '.join(unknown)} not a property of {self.entity_set} (has {', '.join(self.properties)})"
            )

    def restricted(self, fields: Iterable[str] | None) -> EntityType:
        """This type with only ``fields`` (all when ``None``), in the metadata's order."""
        if fields is None:
            return self
        wanted = set(fields)
        return EntityType(self.entity_set, {k: v for k, v in self.properties.items() if k in wanted})


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def entity_type(metadata: str, entity_set: str) -> EntityType:
    """The type of ``entity_set`` as the EDMX document ``metadata`` declares it."""
    try:
        root = ElementTree.fromstring(metadata)  # noqa: S314 (the API's own metadata, over TLS)
    except ElementTree.ParseError as error:
        raise BusinessCentralBadAnswerError(f"$metadata is not valid XML: {error}") from None
    types: dict[str, dict[str, str]] = {}
    sets: dict[str, str] = {}
    for element in root.iter():
        kind = _local(element.tag)
        if kind == "EntityType":
            properties = {
                child.get("Name", ""): child.get("Type", "") for child in element if _local(child.tag) == "Property"
            }
            types[element.get("Name", "")] = properties
        elif kind == "EntitySet":
            sets[element.get("Name", "")] = element.get("EntityType", "").rpartition(".")[2]
    if entity_set not in sets:
        raise BusinessCentralQueryError(
            "entity_set", f"{entity_set!r} is not an entity set of this API (it has {', '.join(sorted(sets))})"
        )
    type_name = sets[entity_set]
    if type_name not in types:
        raise BusinessCentralBadAnswerError(f"$metadata declares {entity_set} of type {type_name!r} but not the type")
    return EntityType(entity_set, types[type_name])


def arrow_schema(entity: EntityType) -> pa.Schema:
    """The Arrow schema of ``entity``: decimals as decimal128, dates and times as such, enums as text;
    then the row's ``@odata.etag``."""
    import pyarrow as pa

    simple = {
        "Edm.Boolean": pa.bool_(),
        "Edm.Byte": pa.uint8(),
        "Edm.Int16": pa.int16(),
        "Edm.Int32": pa.int32(),
        "Edm.Int64": pa.int64(),
        "Edm.Single": pa.float32(),
        "Edm.Double": pa.float64(),
        "Edm.Decimal": pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
        "Edm.Date": pa.date32(),
        "Edm.DateTimeOffset": pa.timestamp("us", tz="UTC"),
        "Edm.TimeOfDay": pa.time64("us"),
        "Edm.Binary": pa.binary(),
    }
    # Edm.Guid, Edm.String, Edm.Duration and the enum types travel as text
    fields = [pa.field(name, simple.get(edm, pa.string())) for name, edm in entity.properties.items()]
    return pa.schema([*fields, pa.field(ETAG, pa.string())])
