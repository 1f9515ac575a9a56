"""OData v4 as Business Central speaks it: URLs, filters, queries, lookups, pages.

Owns how a request is written and how a collection answer is read, with no I/O. Imports only the
client's shared modules (:mod:`..errors`, :mod:`..settings`, :mod:`..entity_sets`).

The filter helpers are importable from here (``from airflow_provider_bc.client.odata import clause``).
"""

from airflow_provider_bc.client.odata.filters import (
    all_of,
    check_filter,
    clause,
    decode_enum,
    decode_enums,
    filter_from_match,
    format_literal,
    select_fields,
    text_clause,
)

__all__ = [
    "all_of",
    "check_filter",
    "clause",
    "decode_enum",
    "decode_enums",
    "filter_from_match",
    "format_literal",
    "select_fields",
    "text_clause",
]
