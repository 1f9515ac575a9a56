"""OpenLineage datasets of a task (``airflow_provider_bc.tasks.lineage``): each input with its namespace, name
and schema when known, the folder written as the output, and nothing at all without the OpenLineage provider."""

from __future__ import annotations

import sys

import pytest
from airflow.providers.common.compat.openlineage.facet import Dataset, SchemaDatasetFacet, SchemaDatasetFacetFields
from airflow.providers.openlineage.extractors import OperatorLineage

from airflow_provider_bc.tasks.lineage import operator_lineage

BC = "businesscentral://tenant-1/production"


def test_inputs_with_and_without_a_schema_and_the_output_folder() -> None:
    made = operator_lineage(
        [
            (BC, "c1.itemLedgerEntries", {"entryNumber": "integer", "postingDate": "date"}),
            ("postgres://db.example:5432", "dw.ledger", None),
        ],
        "s3://reports-bucket/reconcile/run_1",
    )
    assert isinstance(made, OperatorLineage)
    assert made.inputs == [
        Dataset(
            namespace=BC,
            name="c1.itemLedgerEntries",
            facets={
                "schema": SchemaDatasetFacet(
                    fields=[
                        SchemaDatasetFacetFields(name="entryNumber", type="integer"),
                        SchemaDatasetFacetFields(name="postingDate", type="date"),
                    ]
                )
            },
        ),
        Dataset(namespace="postgres://db.example:5432", name="dw.ledger", facets={}),
    ]
    assert made.outputs == [Dataset(namespace="s3://reports-bucket", name="/reconcile/run_1")]


def test_an_empty_schema_is_no_schema_facet() -> None:
    made = operator_lineage([(BC, "c1.items", {})], None)
    assert made.inputs == [Dataset(namespace=BC, name="c1.items", facets={})]


@pytest.mark.parametrize(
    ("output", "namespace", "name"),
    [
        ("file:///tmp/reports/run_1", "file://", "/tmp/reports/run_1"),
        ("abfs://container@account.dfs.core.windows.net/r/x", "abfs://container@account.dfs.core.windows.net", "/r/x"),
        ("gs://bucket", "gs://bucket", ""),
    ],
)
def test_the_output_uri_is_split_into_namespace_and_path(output: str, namespace: str, name: str) -> None:
    made = operator_lineage([], output)
    assert made.inputs == [] and made.outputs == [Dataset(namespace=namespace, name=name)]


@pytest.mark.parametrize("output", [None, ""])
def test_no_output_is_no_output_dataset(output: str | None) -> None:
    assert operator_lineage([(BC, "c1.items", None)], output).outputs == []


@pytest.mark.parametrize(
    "missing", ["airflow.providers.openlineage.extractors", "airflow.providers.common.compat.openlineage.facet"]
)
def test_without_the_openlineage_provider_there_is_no_lineage(missing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # importing it raises ImportError
    assert operator_lineage([(BC, "c1.items", {"id": "string"})], "s3://b/p") is None
