"""Timing and memory of a pipeline run, split by stage, without touching the pipeline's code.

`StageClock` wraps the step functions of `bureau_stats.pipeline` (extract, audit, publish,
register, fingerprint) for the duration of a `with` block and adds up the seconds spent in
each; a sampler thread reads this process's resident set size (VmRSS, from `/proc/self/statm`)
every few milliseconds and keeps the peak seen during each stage. The peak of the whole
process is `ru_maxrss`, which the kernel keeps exactly.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# pipeline attribute -> the stage it belongs to (what results.md reports)
STAGE_OF = {
    "discover_step": "discover",
    "fingerprint": "hash",
    "register_step": "ledger",
    "extract_step": "read",
    "audit_step": "validate",
    "publish_step": "publish",
    "quarantine_batch": "publish",
}
STAGES = ("discover", "hash", "ledger", "read", "validate", "publish", "metrics")
SAMPLE_SECONDS = 0.01
MIB = 2**20


PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CHILDREN_EVERY = 20  # samples between two looks for new child processes (the reader)


def _resident(pid: int | str) -> int:
    """Resident set size of a process (VmRSS: the second field of the one-line statm)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fp:
            return int(fp.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):  # gone meanwhile
        return 0


def rss_bytes() -> int:
    """Current resident set size of this process."""
    return _resident("self")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fp:
                out += [int(c) for c in fp.read().split()]
    except OSError:  # gone meanwhile
        pass
    return out


def descendants(pid: int | None = None) -> list[int]:
    """Every process this one (or `pid`) started, and theirs."""
    out, todo = [], [pid or os.getpid()]
    while todo:
        found = _children(todo.pop())
        out += found
        todo += found
    return out


def tree_rss_bytes(children: list[int]) -> int:
    """Resident set size of this process and `children` (`descendants()`, the reader process).

    The caller keeps the list: walking every thread's children file costs far more than
    reading one statm, and the sampler runs in the measured process.
    """
    return rss_bytes() + sum(map(_resident, children))


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class StageClock:
    """Seconds and peak RSS per stage; use `stage(name)` around any other block."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    peak_rss: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    peak_tree_rss: int = 0  # this process and its children together, sampled
    _local: threading.local = field(default_factory=threading.local)
    _active: dict[str, int] = field(default_factory=dict)  # stage -> threads in it now
    _stop: threading.Event = field(default_factory=threading.Event)
    _patched: list[tuple[Any, str, Any]] = field(default_factory=list)
    # (module, attribute, stage) to wrap; default: the pipeline's steps (STAGE_OF)
    targets: list[tuple[str, str, str]] | None = None

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Seconds in `name`, per thread: the pipeline reads one file while it publishes the
        previous one, so stages of two threads overlap and their sum exceeds the wall time."""
        outer = getattr(self._local, "current", None)
        self._local.current = name
        self._active[name] = self._active.get(name, 0) + 1
        t0 = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - t0
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            self._note(name)
            if outer is not None:  # a nested stage's time is not also the outer one's
                self.seconds[outer] = self.seconds.get(outer, 0.0) - elapsed
            self._active[name] -= 1
            self._local.current = outer

    def _note(self, name: str) -> None:
        now = rss_bytes()
        if now > self.peak_rss.get(name, 0):
            self.peak_rss[name] = now

    def _sample(self) -> None:
        children: list[int] = []
        for n in itertools.count():
            if self._stop.wait(SAMPLE_SECONDS):
                return
            if n % CHILDREN_EVERY == 0:
                children = descendants()
            self.peak_tree_rss = max(self.peak_tree_rss, tree_rss_bytes(children))
            for name, threads in list(self._active.items()):
                if threads > 0:
                    self._note(name)

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return fn(*args, **kwargs)

        return timed

    def __enter__(self) -> StageClock:
        import importlib

        targets = self.targets or [
            ("bureau_stats.pipeline", attr, stage) for attr, stage in STAGE_OF.items()
        ]
        for module_name, attr, stage in targets:
            module = importlib.import_module(module_name)
            original = getattr(module, attr, None)
            if original is None:  # renamed upstream: its time shows up as "other"
                print(f"bench: {module_name}.{attr} not found, not timed", file=sys.stderr)
                continue
            self._patched.append((module, attr, original))
            setattr(module, attr, self._wrap(stage, original))
        threading.Thread(target=self._sample, name="rss-sampler", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for module, attr, original in reversed(self._patched):
            setattr(module, attr, original)
        self._patched.clear()


class TreeRss:
    """Peak resident sets of another process and of what it started (sampled every 50 ms in a
    thread of the bench process): `root` alone, its descendants together (a served flow run and
    its reader, or the reader of `run --in-process`), and all of them together."""

    # The tree is walked again every this many samples (once a second): walking it reads the
    # children file of every thread of every process in it (a served flow run has dozens), and
    # doing that every 50 ms took ~0.1 of a core from the run measured on two cores (2.6
    # CPU-seconds more at --scale 30 than at 10). A process is seen within a second of its start.
    WALK_EVERY = 20

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.root = self.children = self.total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-rss", daemon=True)

    def _sample(self) -> None:
        tree: list[int] = []
        samples = 0
        while not self._stop.wait(self.every):
            if samples % self.WALK_EVERY == 0:
                tree = descendants(self.pid)
            samples += 1
            root = _resident(self.pid)
            children = sum(map(_resident, tree))
            self.root = max(self.root, root)
            self.children = max(self.children, children)
            self.total = max(self.total, root + children)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def mib(self) -> dict[str, float]:
        return {
            "peak_rss_mib": round(self.total / MIB, 1),
            "peak_rss_root_mib": round(self.root / MIB, 1),
            "peak_rss_children_mib": round(self.children / MIB, 1),
        }
