"""The reader process under memory and time limits, and what its death means for the file.

A file the connector's checks let through may still take more memory or time than a machine
has (a Rust allocation failure aborts the process: SIGABRT). The read-ahead process runs
under an address-space limit (`BUREAU_STATS_READER_MEMORY_MB`) and each read under a timer
(`BUREAU_STATS_READER_TIMEOUT_SECONDS`, SIGALRM); a process that dies while reading a file
quarantines THAT file (`too_large`, or `unreadable` for another death) instead of leaving it
pending for every later run to die on again. The read-ahead process is then started anew for
the next file.
"""

from __future__ import annotations

import contextlib
import resource
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bureau_stats.settings import Settings
    from connectors.batch import ExtractedBatch, LandingFile

# Deaths that mean "more than the reader can hold": an allocation failure aborts (Rust,
# C++), the kernel's out-of-memory killer sends SIGKILL.
_MEMORY_DEATHS = (signal.SIGABRT, signal.SIGKILL)


@dataclass(frozen=True)
class ReaderLimits:
    """Limits of one reader process (None: unlimited)."""

    memory_mb: int | None = None
    timeout_seconds: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ReaderLimits:
        return cls(
            memory_mb=getattr(settings, "reader_memory_mb", None) or None,
            timeout_seconds=getattr(settings, "reader_timeout_seconds", None) or None,
        )


def limit_this_process(limits: ReaderLimits | None) -> None:
    """Reader-process start: cap its address space (allocations beyond fail, not the host)."""
    if limits is None or not limits.memory_mb:
        return
    cap = limits.memory_mb << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


@contextlib.contextmanager
def time_limit(limits: ReaderLimits | None) -> Iterator[None]:
    """One read under a timer. SIGALRM keeps its default action (terminate): it ends the
    process even while C code holds the GIL. For the reader process only, never the run's."""
    seconds = limits.timeout_seconds if limits is not None else None
    if not seconds:
        yield
        return
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def pool_workers(executor: Executor | None) -> list[Any]:
    """The worker processes of a ProcessPoolExecutor (its private `_processes`; none when a
    Python version lacks it: the death is then quarantined `unreadable` without its signal)."""
    processes: dict[Any, Any] = getattr(executor, "_processes", None) or {}
    return list(processes.values())


def worker_exit_code(workers: list[Any], wait: float = 5.0) -> int | None:
    """The exit code of a dead reader process among `workers` (`pool_workers`), if known.

    The pool's own thread reaps the dead process too: when it wins that race our join sees
    no child, and the code appears on the shared process object a moment later."""
    deadline = time.monotonic() + wait
    while True:
        for process in workers:
            code = None
            with contextlib.suppress(Exception):  # a closed process object raises ValueError
                process.join(timeout=0.2)
                code = process.exitcode
            if code is not None:
                return int(code)
        if not workers or time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def death_verdict(exitcode: int | None, limits: ReaderLimits | None) -> tuple[str, str]:
    """(reason, detail) of a file whose reader process died while reading it."""
    if exitcode is not None and exitcode < 0:
        number = -exitcode
        name = signal.Signals(number).name if number in signal.valid_signals() else "?"
        died = f"reader process died (signal {number}, {name})"
        if number == signal.SIGALRM and limits is not None and limits.timeout_seconds:
            return "too_large", (
                f"{died}: reading took longer than {limits.timeout_seconds:g} s "
                "(BUREAU_STATS_READER_TIMEOUT_SECONDS)"
            )
        if number in _MEMORY_DEATHS:
            memory = f" of {limits.memory_mb} MB" if limits and limits.memory_mb else ""
            return "too_large", f"{died}: more than the reader's memory{memory} can hold"
        return "unreadable", died
    if exitcode is None:
        return "unreadable", "reader process died"
    return "unreadable", f"reader process died (exit code {exitcode})"


def died_reading(
    file: LandingFile, sha256: str, exitcode: int | None, limits: ReaderLimits | None
) -> ExtractedBatch:
    """The quarantine of a file its reader process died on (nothing of it was read)."""
    from connectors.batch import ExtractedBatch

    reason, detail = death_verdict(exitcode, limits)
    return ExtractedBatch.refused(file, sha256, reason, detail)
