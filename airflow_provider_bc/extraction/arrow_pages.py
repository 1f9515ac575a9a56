"""Pages read straight into Arrow for Parquet files: pyarrow's JSON reader parses the answer's body
against the entity type's schema (decimals exact, never through floats), with no Python object per
value; only the few fields the run itself reads become Python lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_bc.client.odata.paging import DecodedEntities
from airflow_provider_bc.extraction.schema import EntityType, arrow_schema

if TYPE_CHECKING:
    import pyarrow as pa

NEXT_LINK = "@odata.nextLink"


class ArrowRows(DecodedEntities):
    """A page's entities as an Arrow record batch (the Parquet schema), with the values of a few fields
    as the API sent them (:meth:`column`)."""

    __slots__ = ("_columns", "batch")

    def __init__(self, batch: pa.RecordBatch, columns: dict[str, list[Any]]) -> None:
        self.batch = batch
        self._columns = columns

    def __len__(self) -> int:
        return int(self.batch.num_rows)

    def entity(self, index: int) -> dict[str, Any]:
        entity: dict[str, Any] = self.batch.slice(index, 1).to_pylist()[0]
        return entity

    def column(self, name: str) -> list[Any]:
        """Field ``name`` of each entity as JSON has it (``None`` where absent)."""
        return self._columns[name]

    def subset(self, indexes: Sequence[int]) -> ArrowRows:
        """Only the entities at ``indexes``, in that order."""
        import pyarrow as pa

        return ArrowRows(
            self.batch.take(pa.array(indexes, pa.int64())),
            {name: [values[i] for i in indexes] for name, values in self._columns.items()},
        )


def _time_of_day(values: pa.Array, target: pa.DataType) -> pa.Array:
    import pyarrow as pa

    times = [None if v is None else dt.time.fromisoformat(v) for v in values.to_pylist()]
    return pa.array(times, target)


def _timestamp(values: pa.Array, target: pa.DataType) -> pa.Array:
    """Arrow's cast; text it does not take (more than 6 digits of a second) read as Python reads it."""
    import pyarrow as pa

    try:
        return values.cast(target)
    except pa.ArrowInvalid:
        stamps = [
            None if v is None else dt.datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values.to_pylist()
        ]
        return pa.array(stamps, target)


def _converter(target: pa.DataType) -> Callable[[pa.Array, pa.DataType], pa.Array] | None:
    """How a column read as JSON text becomes ``target``; ``None``: JSON's reader gives ``target`` itself."""
    import pyarrow as pa

    if pa.types.is_time(target):
        return _time_of_day
    if pa.types.is_timestamp(target):
        return _timestamp
    if pa.types.is_date(target) or pa.types.is_binary(target):
        return lambda values, to: values.cast(to)
    return None


def arrow_page_reader(entity: EntityType, fields: Sequence[str]) -> Callable[[bytes], dict[str, Any]]:
    """A body decoder (``iter_pages(decode=...)``) giving a page's ``value`` as :class:`ArrowRows` of
    ``entity``'s Parquet schema, with ``fields`` as JSON has them beside.

    Malformed JSON and values that do not fit their type raise ``pyarrow.ArrowInvalid`` (a ``ValueError``).
    """
    import pyarrow as pa
    import pyarrow.json as pj

    schema = arrow_schema(entity)
    converters = {f.name: _converter(f.type) for f in schema}
    read_as = pa.struct([pa.field(f.name, f.type if converters[f.name] is None else pa.string()) for f in schema])
    envelope = pa.schema([pa.field("value", pa.list_(read_as)), pa.field(NEXT_LINK, pa.string())])
    parse = pj.ParseOptions(explicit_schema=envelope, unexpected_field_behavior="ignore", newlines_in_values=True)
    wanted = tuple(fields)

    def decode(body: bytes) -> dict[str, Any]:
        # one block holds the whole answer: a single JSON object of any size
        read = pj.ReadOptions(use_threads=False, block_size=len(body) + 1)
        table = pj.read_json(pa.BufferReader(body), read_options=read, parse_options=parse)
        if table.num_rows != 1:
            raise ValueError(f"{table.num_rows} JSON values where one object was expected")
        payload: dict[str, Any] = {}
        link = table.column(NEXT_LINK)[0].as_py()
        if link is not None:
            payload[NEXT_LINK] = link
        value = table.column("value")
        if value.null_count:  # no ``value``: the page reader says what is wrong
            return payload
        rows = value.chunk(0).flatten()
        if rows.null_count:
            raise ValueError("an entity of the page is null, not an object")
        arrays = rows.flatten()  # the struct's fields, in the schema's order
        columns = {
            name: arrays[schema.get_field_index(name)].to_pylist() if name in schema.names else [None] * len(rows)
            for name in wanted
        }
        for position, field in enumerate(schema):
            convert = converters[field.name]
            if convert is not None:
                arrays[position] = convert(arrays[position], field.type)
        payload["value"] = ArrowRows(pa.RecordBatch.from_arrays(arrays, schema=schema), columns)
        return payload

    return decode
