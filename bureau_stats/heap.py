"""Handing freed memory back to the system between files.

glibc keeps freed blocks in its per-thread arenas and Arrow's allocator keeps freed pages for
reuse: without this, a long run's resident size creeps towards the sum of the files' peaks
(each thread's, each allocator's) instead of staying near the largest one.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow as pa

_libc: ctypes.CDLL | None = None


def release_freed_memory() -> None:
    """Return freed heap pages to the system (cheap: a few milliseconds)."""
    global _libc
    pa.default_memory_pool().release_unused()
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        pass


def use_jemalloc() -> bool:
    """Arrow's allocations (and pandas' Arrow-backed columns) from jemalloc, where the pyarrow
    build has it. pyarrow's default, mimalloc, kept more of each file's freed blocks: a run of
    the workbook-heavy year at --scale 30 with two readers peaked at 1,050 MiB with it and
    962 MiB with jemalloc, reading as fast (bench/NOTES.md, session 15). Idempotent; False
    (the default pool kept) where the build has no jemalloc."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    pa.set_memory_pool(pool)
    return True


def arrow_allocator() -> str:
    """The allocator behind Arrow's default pool in this process (`jemalloc`, `mimalloc`...)."""
    return str(pa.default_memory_pool().backend_name)
