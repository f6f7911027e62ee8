"""Reading the next delivery while the current one is audited and published.

The reader and the audit are both Python-bound: in one process they take turns on the GIL, so
the next file is read in a separate process (`process`, the default) and handed over as its
Arrow rows (with a spool folder: as the path of the file they were spilled to). `thread` keeps everything in this process (tests that patch the reader use it).
Files are handed over strictly in the order given. With `readers` processes (`process` mode),
that many files are read at once ahead of the one being audited (for machines with more cores
than the reader, the audit and PostgreSQL keep busy: on two, one reader is as fast). A
reader process that dies leaves its files unattributed when others were read beside it: they
are read again one at a time, and the run goes on with one reader, so a death is always
charged to the file that caused it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from bureau_stats.heap import one_malloc_arena, release_freed_memory, use_jemalloc
from bureau_stats.outcome import FileOutcome
from bureau_stats.reader_limits import (
    ReaderLimits,
    died_reading,
    limit_this_process,
    pool_workers,
    time_limit,
    worker_exit_code,
)
from connectors.batch import ExtractedBatch
from warehouse.ledger import BatchRecord, Delivery

log = logging.getLogger(__name__)

ReadAheadMode = Literal["process", "thread"]
PR_SET_PDEATHSIG = 1  # linux/prctl.h
Read = ExtractedBatch | FileOutcome


def _exit_with_parent(parent: int) -> None:
    """Reader-process initializer: a reader whose run was killed (SIGKILL, out of memory)
    must not live on, holding the run's output pipes open and its memory."""
    try:  # Linux: the kernel kills us when the parent dies
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # elsewhere, and for a parent that died before prctl
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _start_reader(parent: int, limits: ReaderLimits | None) -> None:
    """Reader-process initializer: one malloc arena (before any thread starts), tied to its
    parent, under the memory limit, Arrow's memory from jemalloc."""
    one_malloc_arena()
    _exit_with_parent(parent)
    limit_this_process(limits)
    use_jemalloc()


@contextmanager
def _bare_main() -> Iterator[None]:
    """A reader process started now does not import this process's main module.

    `spawn` runs the parent's main module again in each child (as `__mp_main__`): in a served
    flow run that is `prefect.engine`, with all of Prefect (a reader of the workbook-heavy year
    then held 290-304 MiB against 240-259 under `run --in-process`). A reader needs nothing
    from it (its functions are importable by name), so while processes start, the main module
    it is shown is a bare one."""
    real = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if real is not None:
            sys.modules["__main__"] = real


def _read(
    delivery: Delivery,
    record: BatchRecord,
    pii_key: bytes,
    threshold: Decimal,
    spool_dir: Path | None,
    limits: ReaderLimits | None = None,
) -> tuple[Read, float]:
    from bureau_stats.pipeline import extract_delivery

    t0 = time.perf_counter()
    with time_limit(limits):  # only ever given in the reader process
        result = extract_delivery(
            delivery, record, pii_key=pii_key, threshold=threshold, spool_dir=spool_dir
        )
    release_freed_memory()
    return result, time.perf_counter() - t0


class ReadAhead:
    """`take()` returns the next delivery of `order` and what reading it gave, read while the
    previous one was audited and published."""

    def __init__(
        self,
        order: list[tuple[Delivery, BatchRecord]],
        *,
        pii_key: bytes,
        threshold: Decimal,
        mode: ReadAheadMode = "process",
        spool_dir: Path | None = None,
        limits: ReaderLimits | None = None,
        readers: int = 1,
    ) -> None:
        if readers < 1:
            raise ValueError(f"readers must be at least 1, got {readers}")
        use_jemalloc()  # the audit's and the publisher's Arrow memory, in this process
        self._order = order
        self._next = 0
        self._pending: deque[tuple[Delivery, BatchRecord, Future[tuple[Read, float]]]] = deque()
        self._pii_key = pii_key
        self._threshold = threshold
        self._mode = mode
        self._spool_dir = spool_dir
        self._limits = limits if mode == "process" else None  # a timer would end the run
        self._executor: Executor | None = None
        self._workers: list[Any] = []  # the reader processes, kept to read an exit code
        self._readers = readers if mode == "process" else 1  # a thread would only share the GIL
        self.seconds = 0.0  # spent reading (in the reader, overlapping everything else)

    def _pool(self) -> Executor:
        if self._executor is None:
            if self._mode == "process":
                # spawn: the parent runs threads (publisher, Prefect, GX); fork would copy locks
                context = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(
                    max_workers=self._readers,
                    mp_context=context,
                    initializer=_start_reader,
                    initargs=(os.getpid(), self._limits),
                )
            else:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read")
        return self._executor

    def _submit(self) -> bool:
        if self._next >= len(self._order):
            return False
        delivery, record = self._order[self._next]
        # The pool starts its processes on a submit, until it has all of them.
        starting = self._mode == "process" and len(self._workers) < self._readers
        try:
            with _bare_main() if starting else nullcontext():
                future = self._pool().submit(
                    _read,
                    delivery,
                    record,
                    self._pii_key,
                    self._threshold,
                    self._spool_dir,
                    self._limits,
                )
        except BrokenProcessPool:  # it died on the file before: `take` restarts it
            return False
        self._next += 1
        self._pending.append((delivery, record, future))
        # A broken pool forgets its processes; keep them to tell how the reader died.
        self._workers = pool_workers(self._executor) or self._workers
        return True

    def take(self) -> tuple[Delivery, BatchRecord, Read]:
        if not self._pending:
            self._submit()
        delivery, record, future = self._pending.popleft()
        beside = len(self._pending)  # files read at the same time as this one
        # The next files are read while this one is audited and published.
        while len(self._pending) < self._readers and self._submit():
            pass
        try:
            result, seconds = future.result()
        except BrokenProcessPool:
            if beside:  # which of the files read at once killed it? Each again, alone.
                self._next -= 1
                self._restart()
                self._readers = 1
                return self.take()
            # the reader process died on THIS file: quarantine it
            exitcode = worker_exit_code(self._workers)
            self._restart()
            died = died_reading(delivery.file, record.sha256, exitcode, self._limits)
            log.error("%s: %s", delivery.file.relative, died.detail)
            return delivery, record, died
        except Exception as exc:  # the pool could not run the read at all
            log.error("%s: reader process failed (%s)", delivery.file.relative, type(exc).__name__)
            self._restart()
            detail = f"reader process failed ({type(exc).__name__})"
            failed = FileOutcome.failed(delivery.file, record, detail)
            return delivery, record, failed
        self.seconds += seconds
        return delivery, record, result

    def skip(self, count: int) -> None:
        """Leave out the next `count` deliveries (their source is locked by someone else)."""
        for _ in range(count):
            if self._pending:
                self._pending.popleft()[2].cancel()
            else:
                self._next += 1

    def _restart(self) -> None:
        """A broken pool cannot be reused: resubmit what was queued on a new one."""
        self._next -= len(self._pending)
        self._pending.clear()
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            self._workers = []

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
