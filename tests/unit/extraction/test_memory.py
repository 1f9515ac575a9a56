"""flat_memory: glibc's mmap threshold pinned once, Arrow on the system allocator for a Parquet run, then restored."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Iterator

import pyarrow as pa
import pytest

from airflow_provider_bc.extraction import memory
from airflow_provider_bc.extraction.memory import flat_memory, pin_mmap_threshold


@pytest.fixture(autouse=True)
def _uncached() -> Iterator[None]:
    pin_mmap_threshold.cache_clear()
    yield
    pin_mmap_threshold.cache_clear()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_the_threshold_is_set_through_mallopt_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real = memory.ctypes.CDLL

    def cdll(name: str) -> object:
        opened.append(name)
        return real(name)

    monkeypatch.setattr(memory.ctypes, "CDLL", cdll)
    assert pin_mmap_threshold() is True and pin_mmap_threshold() is True
    assert len(opened) == 1


def test_other_c_libraries_and_a_missing_mallopt_leave_it_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert pin_mmap_threshold() is False
    pin_mmap_threshold.cache_clear()
    monkeypatch.setattr(memory.platform, "libc_ver", lambda: ("glibc", "2.36"))

    def missing(name: str) -> object:
        raise OSError(f"no {name}")

    monkeypatch.setattr(memory.ctypes, "CDLL", missing)
    assert pin_mmap_threshold() is False


def test_a_parquet_run_allocates_from_the_system_pool_and_gives_the_previous_one_back() -> None:
    before = pa.default_memory_pool()
    with flat_memory(arrow=True):
        assert pa.default_memory_pool().backend_name == "system"
    assert pa.default_memory_pool().backend_name == before.backend_name
    with pytest.raises(RuntimeError), flat_memory(arrow=True):
        raise RuntimeError("a failed run")
    assert pa.default_memory_pool().backend_name == before.backend_name


PROBE = """
import os, sys
from airflow_provider_bc.extraction.memory import flat_memory
with flat_memory(arrow=sys.argv[1] == "parquet"):
    loaded = "pyarrow" in sys.modules
print(os.environ.get("ARROW_DEFAULT_MEMORY_POOL"), loaded)
"""


@pytest.mark.parametrize(
    ("run", "pool", "expected"),
    [("parquet", None, "system True"), ("parquet", "jemalloc", "jemalloc True"), ("ndjson", None, "None False")],
)
def test_pyarrow_loaded_by_a_parquet_run_starts_on_the_system_pool_unless_told(
    run: str, pool: str | None, expected: str
) -> None:
    env = {key: value for key, value in os.environ.items() if key != "ARROW_DEFAULT_MEMORY_POOL"}
    env.update({"ARROW_DEFAULT_MEMORY_POOL": pool} if pool else {})
    done = subprocess.run([sys.executable, "-c", PROBE, run], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == expected.split()
