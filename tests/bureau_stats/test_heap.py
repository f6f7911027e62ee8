"""Where Arrow's memory comes from: jemalloc in the run's process and in its readers, freed
pages returned at once; one malloc arena in a reader."""

from __future__ import annotations

import platform
from decimal import Decimal

import pyarrow as pa
import pytest

from bureau_stats import heap
from bureau_stats.read_ahead import ReadAhead


def _jemalloc_built() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


def test_the_run_and_its_reader_processes_allocate_from_jemalloc() -> None:
    expected = "jemalloc" if _jemalloc_built() else heap.arrow_allocator()
    reader = ReadAhead([], pii_key=b"k", threshold=Decimal("0.05"), mode="process")
    try:
        assert heap.arrow_allocator() == expected  # this process, once a reader exists
        in_reader = reader._pool().submit(heap.arrow_allocator).result(timeout=120)
        assert in_reader == expected  # the spawned reader process, from its initializer
    finally:
        reader.close()


def test_a_build_without_jemalloc_keeps_its_default_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    before = heap.arrow_allocator()

    def missing() -> pa.MemoryPool:
        raise NotImplementedError("built without jemalloc")

    monkeypatch.setattr(pa, "jemalloc_memory_pool", missing)
    assert heap.use_jemalloc() is False
    assert heap.arrow_allocator() == before


def test_jemalloc_returns_freed_pages_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[int] = []
    monkeypatch.setattr(pa, "jemalloc_set_decay_ms", delays.append)
    assert heap.use_jemalloc() is _jemalloc_built()
    assert delays == ([0] if _jemalloc_built() else [])


def test_a_reader_process_has_one_malloc_arena() -> None:
    glibc = platform.libc_ver()[0] == "glibc"
    reader = ReadAhead([], pii_key=b"k", threshold=Decimal("0.05"), mode="process")
    try:
        in_reader = reader._pool().submit(heap.arena_limit).result(timeout=120)
    finally:
        reader.close()
    assert in_reader == (1 if glibc else None)
    assert heap.arena_limit() is None  # the run's own process keeps glibc's default
