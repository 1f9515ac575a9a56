"""$metadata types become Arrow types; unknown entity sets and fields are named."""

from __future__ import annotations

import pytest

from airflow_provider_bc.client.errors import BusinessCentralBadAnswerError, BusinessCentralQueryError
from airflow_provider_bc.extraction.schema import arrow_schema, entity_type

METADATA = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
<Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">
<EnumType Name="entryType"><Member Name="Sale" Value="1"/></EnumType>
<EntityType Name="itemLedgerEntry"><Key><PropertyRef Name="id"/></Key>
<Property Name="id" Type="Edm.Guid"/><Property Name="entryNumber" Type="Edm.Int32"/>
<Property Name="entryType" Type="Microsoft.NAV.entryType"/><Property Name="postingDate" Type="Edm.Date"/>
<Property Name="quantity" Type="Edm.Decimal" Scale="Variable"/>
<Property Name="lastModifiedDateTime" Type="Edm.DateTimeOffset"/></EntityType>
<EntityContainer Name="NAV"><EntitySet Name="itemLedgerEntries" EntityType="Microsoft.NAV.itemLedgerEntry"/>
</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"""


def test_metadata_types_become_arrow_types_and_unknown_fields_are_named() -> None:
    import pyarrow as pa

    entity = entity_type(METADATA, "itemLedgerEntries")
    schema = arrow_schema(entity)
    assert schema.field("quantity").type == pa.decimal128(38, 18)
    assert schema.field("postingDate").type == pa.date32() and schema.field("entryNumber").type == pa.int32()
    assert schema.field("entryType").type == pa.string() and schema.field("id").type == pa.string()
    assert schema.field("lastModifiedDateTime").type == pa.timestamp("us", tz="UTC")
    with pytest.raises(BusinessCentralQueryError, match="noSuchField") as caught:
        entity.check_fields(["id", "noSuchField"], "select")
    assert caught.value.field == "select"
    with pytest.raises(BusinessCentralQueryError, match="itemLedgerEntries"):
        entity_type(METADATA, "generalLedgerEntries")
    with pytest.raises(BusinessCentralBadAnswerError, match=r"\$metadata"):
        entity_type("<html>", "itemLedgerEntries")
