"""A full disk, for real where the tests may mount a tmpfs (root, as in CI), else the closest
honest stand-in (documented at each use)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

FILLER = ".filler"


def mount_tmpfs(path: Path, size: str, mode: str = "0755") -> bool:
    """Mount a tmpfs of `size` (e.g. "1m") at `path`; False where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode={mode}", "tmpfs", str(path)],
        capture_output=True,
    )
    return done.returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path, leave: int = 0) -> Path:
    """Write into `path` until the file system is full, then give back `leave` bytes;
    returns the filler file."""
    filler = path / FILLER
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fp:
        try:
            while True:
                fp.write(block)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        with contextlib.suppress(OSError):  # the last partial block
            fp.write(b"\0" * 512)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def free(path: Path) -> None:
    (path / FILLER).unlink(missing_ok=True)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs at `path` for the block (yields False, and mounts nothing, where not allowed)."""
    mounted = mount_tmpfs(path, size)
    try:
        yield mounted
    finally:
        if mounted:
            umount(path)
