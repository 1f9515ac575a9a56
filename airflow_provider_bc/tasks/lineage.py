"""OpenLineage datasets of a task: what it read (with a schema when known) and the folder it wrote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

#: an input: its namespace, its name, and its fields' types (``None``: unknown)
Input = tuple[str, str, Mapping[str, str] | None]


def operator_lineage(inputs: Sequence[Input], output: str | None) -> Any:
    """An ``OperatorLineage`` of ``inputs`` and the ``output`` URI; ``None`` without the OpenLineage provider."""
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            SchemaDatasetFacet,
            SchemaDatasetFacetFields,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None

    def dataset(namespace: str, name: str, schema: Mapping[str, str] | None) -> Any:
        fields = [SchemaDatasetFacetFields(name=field, type=kind) for field, kind in (schema or {}).items()]
        return Dataset(
            namespace=namespace, name=name, facets={"schema": SchemaDatasetFacet(fields=fields)} if schema else {}
        )

    written = urlsplit(output) if output else None
    return OperatorLineage(
        inputs=[dataset(*given) for given in inputs],
        outputs=[Dataset(namespace=f"{written.scheme}://{written.netloc}", name=written.path)] if written else [],
    )
