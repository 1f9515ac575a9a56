"""The key sets and tombstones of :mod:`airflow_provider_bc.extraction.tombstones`: the merge that finds
the ids gone, the files written and read back, and a previous run's key set that is not what a run
writes named as such."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_bc.client.errors import BusinessCentralQueryError
from airflow_provider_bc.extraction.errors import BusinessCentralDestinationError
from airflow_provider_bc.extraction.spec import ExtractionSpec
from airflow_provider_bc.extraction.tombstones import (
    KEYS,
    TOMBSTONES,
    Deletes,
    delivered_ids,
    removed,
    sorted_ids,
    stored_keys,
    write_keys,
    write_tombstones,
)

A, B, C, D = (f"{n}0000000-0000-0000-0000-00000000000{n}" for n in "abcd")
#: the characters of an id (GUIDs in either case): lower-casing keeps their order
ID_TEXT = st.text(alphabet="0123456789abcdefABCDEF-", max_size=6)


def _removed(previous: list[str], current: list[str]) -> list[str]:
    return list(removed(sorted(previous, key=str.lower), sorted_ids(current)))


@pytest.mark.parametrize(
    ("previous", "current", "gone"),
    [
        ([], [], []),
        ([], [A, B], []),
        ([A, B], [], [A, B]),
        ([A, B, C, D], [B, D], [A, C]),
        ([A, B], [A, B, C], []),  # created since: no tombstone
        ([A, A, B, B, B], [B, B], [A]),  # duplicates on either side: once each
        ([A.upper(), B], [A, B.upper()], []),  # an id in another case is the same id
        ([C.upper(), D], [A], [C, D]),  # written lower-case
    ],
)
def test_the_ids_gone_are_those_of_the_previous_key_set_missing_now(
    previous: list[str], current: list[str], gone: list[str]
) -> None:
    assert _removed(previous, current) == gone


@given(st.lists(ID_TEXT), st.lists(ID_TEXT))
def test_the_merge_is_the_sorted_set_difference(previous: list[str], current: list[str]) -> None:
    expected = sorted({p.lower() for p in previous} - {c.lower() for c in current})
    assert _removed(previous, current) == expected


def _lines(path: Path) -> list[Any]:
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]


def test_a_key_set_is_written_once_each_and_read_back_checked(tmp_path: Path) -> None:
    folder = ObjectStoragePath(tmp_path.as_uri())
    entry = write_keys(folder, sorted_ids([B, A.upper(), B, C]))
    assert entry == {"name": KEYS, "rows": 3, "bytes": (tmp_path / KEYS).stat().st_size}
    assert _lines(tmp_path / KEYS) == [A, B, C]
    assert list(stored_keys(folder / KEYS, 3)) == [A, B, C]
    gone = write_tombstones(folder, removed(stored_keys(folder / KEYS, 3), [B]))
    assert gone["rows"] == 2 and _lines(tmp_path / TOMBSTONES) == [{"id": A}, {"id": C}]


def test_an_empty_key_set_is_an_empty_file_of_no_rows(tmp_path: Path) -> None:
    folder = ObjectStoragePath(tmp_path.as_uri())
    assert write_keys(folder, [])["rows"] == 0
    assert list(stored_keys(folder / KEYS, 0)) == []


def _gzipped(tmp_path: Path, text: bytes) -> ObjectStoragePath:
    (tmp_path / KEYS).write_bytes(gzip.compress(text))
    return ObjectStoragePath(tmp_path.as_uri()) / KEYS


@pytest.mark.parametrize(
    ("content", "rows", "problem"),
    [
        (f'"{B}"\n"{A}"\n'.encode(), 2, "is not a lower-case id after"),  # out of order
        (f'"{A}"\n"{A}"\n'.encode(), 2, "is not a lower-case id after"),  # twice
        (f'"{A.upper()}"\n'.encode(), 1, "is not a lower-case id"),
        (b'{"id": 1}\n', 1, "line 1: Expected `str`"),
        (b"not json\n", 1, "line 1: JSON is malformed"),
        (f'"{A}"\n'.encode(), 2, "1 ids, its manifest says 2"),  # cut at a line's end
    ],
)
def test_a_key_set_not_as_written_is_named(tmp_path: Path, content: bytes, rows: int, problem: str) -> None:
    path = _gzipped(tmp_path, content)
    with pytest.raises(BusinessCentralDestinationError, match=problem) as raised:
        list(stored_keys(path, rows))
    assert str(path) in str(raised.value) and raised.value.transient is False


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut
        lambda data: b"plain text, not gzip",
        lambda data: data[:20] + bytes(b ^ 0xFF for b in data[20:-8]) + data[-8:],  # corrupt
    ],
)
def test_a_key_set_file_that_is_not_gzip_to_its_end_is_named(tmp_path: Path, damage: Any) -> None:
    folder = ObjectStoragePath(tmp_path.as_uri())
    write_keys(folder, sorted_ids(f"{n:08x}-0000-0000-0000-000000000000" for n in range(2_000)))
    (tmp_path / KEYS).write_bytes(damage((tmp_path / KEYS).read_bytes()))
    with pytest.raises(BusinessCentralDestinationError, match="is not a key set an extraction wrote") as raised:
        list(stored_keys(folder / KEYS, 2_000))
    assert KEYS in str(raised.value)


def test_a_missing_key_set_file_is_named_and_permanent(tmp_path: Path) -> None:
    path = ObjectStoragePath(tmp_path.as_uri()) / KEYS
    with pytest.raises(BusinessCentralDestinationError, match=re.escape(KEYS)) as raised:
        list(stored_keys(path, 1))
    assert raised.value.transient is False


def _spec(**fields: Any) -> ExtractionSpec:
    return ExtractionSpec("customers", "7b1e1a2c-3d4e-4f50-8162-738495a6b7c8", "run-2", tombstones=True, **fields)


@pytest.mark.parametrize(
    "keys", [{"name": "../escape", "rows": 1}, {"name": KEYS}, "keys", {"name": KEYS, "rows": "1"}]
)
def test_a_previous_manifest_whose_keys_entry_is_not_what_a_run_writes_is_named(tmp_path: Path, keys: Any) -> None:
    company = ObjectStoragePath(tmp_path.as_uri())
    deletes = Deletes(_spec(), company, company / "run-2")
    with pytest.raises(BusinessCentralDestinationError, match=r"_manifest\.json") as raised:
        deletes._tombstones([A], {"run": "run-1", "keys": keys})
    assert "run-1" in str(raised.value)


def test_without_a_previous_key_set_there_are_no_tombstones(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    company = ObjectStoragePath(tmp_path.as_uri())
    deletes = Deletes(_spec(), company, company / "run-2")
    caplog.set_level("INFO")
    assert deletes._tombstones([A], None) is None
    assert deletes._tombstones([A], {"run": "run-1"}) is None
    assert "first run of the series" in caplog.text and "run-1 has no key set" in caplog.text


def test_the_ids_delivered_are_read_back_from_the_part_files(tmp_path: Path) -> None:
    folder = ObjectStoragePath(tmp_path.as_uri())
    rows = [{"id": A, "quantity": 1}, {"id": B, "description": "line\\nbreak"}]
    (tmp_path / "part-00000-00000.ndjson.gz").write_bytes(
        gzip.compress(b"\n".join(json.dumps(r).encode() for r in rows))
    )
    (tmp_path / "part-00001-00000.ndjson").write_bytes(json.dumps({"id": C}).encode() + b"\n\n")
    names = ["part-00000-00000.ndjson.gz", "part-00001-00000.ndjson"]
    assert list(delivered_ids(folder, names, "ndjson")) == [A, B, C]


def test_the_ids_delivered_are_read_back_from_parquet_files(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [A, B], "quantity": [1, 2]}), tmp_path / "part-00000-00000.parquet")
    folder = ObjectStoragePath(tmp_path.as_uri())
    assert list(delivered_ids(folder, ["part-00000-00000.parquet"], "parquet")) == [A, B]


def test_tombstones_need_the_id_among_the_columns_selected() -> None:
    with pytest.raises(BusinessCentralQueryError, match="id") as raised:
        _spec(select=("number", "displayName"))
    assert raised.value.field == "select"
    assert _spec(select=("id", "number")).tombstones is True
    assert ExtractionSpec("customers", "c", "r", select=("number",)).tombstones is False  # off: any columns


def test_tombstones_are_a_flag_and_no_part_of_the_series() -> None:
    with pytest.raises(BusinessCentralQueryError) as raised:
        _spec().__class__("customers", "c", "r", tombstones="yes")  # type: ignore[arg-type]
    assert raised.value.field == "tombstones"
    assert _spec().query == ExtractionSpec("customers", _spec().company_id, "run-2").query
