"""Handing freed memory back to the system between files.

glibc keeps freed blocks in its per-thread arenas and Arrow's allocator keeps freed pages for
reuse: without this, a long run's resident size creeps towards the sum of the files' peaks
(each thread's, each allocator's) instead of staying near the largest one.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util

import pyarrow as pa

M_ARENA_MAX = -8  # glibc's malloc.h
_libc: ctypes.CDLL | None = None
_arena_limit: int | None = None


def _c_library() -> ctypes.CDLL:
    """The C library, loaded once (OSError where it cannot be)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return _libc


def release_freed_memory() -> None:
    """Return freed heap pages to the system (cheap: a few milliseconds)."""
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): no trim
        _c_library().malloc_trim(0)


def use_jemalloc() -> bool:
    """Arrow's allocations (and pandas' Arrow-backed columns) from jemalloc, where the pyarrow
    build has it, its freed pages returned at once. pyarrow's default, mimalloc, kept more of
    each file's freed blocks: a run of the workbook-heavy year at --scale 30 with two readers
    peaked at 1,050 MiB with it and 962 MiB with jemalloc, reading as fast (bench/NOTES.md,
    session 15). jemalloc itself keeps freed pages for 10 s by default: with no delay, the
    twelve registration files of --scale 30 read in one process peaked at 280 MiB instead
    of 325, in the same CPU time (session 16). Idempotent; False (the default pool kept)
    where the build has no jemalloc."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    pa.set_memory_pool(pool)
    pa.jemalloc_set_decay_ms(0)
    return True


def one_malloc_arena() -> bool:
    """glibc's malloc to use one arena for every thread of this process (a reader's: Python
    and pyarrow's CSV threads). glibc gives each allocating thread an arena of its own, up
    to eight per core, and each keeps its freed pages: with one, the registration files above
    peaked at 259 MiB instead of 280, in the same CPU time. Call it before the threads start;
    False where the C library has no `mallopt` (not glibc)."""
    global _arena_limit
    try:
        done = bool(_c_library().mallopt(M_ARENA_MAX, 1))
    except (OSError, AttributeError):
        return False
    if done:
        _arena_limit = 1
    return done


def arena_limit() -> int | None:
    """The arena limit `one_malloc_arena` set in this process (None: glibc's default)."""
    return _arena_limit


def arrow_allocator() -> str:
    """The allocator behind Arrow's default pool in this process (`jemalloc`, `mimalloc`...)."""
    return str(pa.default_memory_pool().backend_name)
