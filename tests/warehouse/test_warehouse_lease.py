"""Source leases whose release fails (a full disk under SQLite, a dropped connection): the run's
own outcome stands, the failure is logged without values, and the lease left behind is taken
over, by this process at once and by any later run once this process has ended."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, exc, select
from warehouse_factory import make_batch

from warehouse.engine import open_warehouse
from warehouse.leases import SourceLocked, acquire_source_locks
from warehouse.ledger import register_deliveries
from warehouse.publish import publish_batch
from warehouse.schema import source_lock

REPO = Path(__file__).resolve().parents[2]
JAN = (date(2024, 1, 1), date(2024, 1, 31))


@contextmanager
def lease_deletes_fail(engine: Engine) -> Iterator[None]:
    """Every DELETE on source_lock fails the way SQLite does on a full disk."""

    def fail(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM SOURCE_LOCK"):
            raise exc.OperationalError(
                statement, None, sqlite3.OperationalError("database or disk is full")
            )

    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)


def holders(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.source: r.holder for r in conn.execute(select(source_lock)).all()}


def test_failed_release_does_not_replace_the_runs_outcome(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    lease = acquire_source_locks(engine, ["cases", "registration"], "run-1", wait=False)
    caplog.set_level(logging.ERROR, logger="warehouse.leases")
    with lease_deletes_fail(engine):
        with pytest.raises(RuntimeError, match="the run's own error"), lease:
            raise RuntimeError("the run's own error")
        with acquire_source_locks(engine, ["inspections"], "run-1", wait=False):
            pass  # a run that went well ends well, whatever its release does
    [*errors] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2
    message = errors[0].getMessage()
    assert "cases" in message and "registration" in message and "OperationalError" in message
    assert "DELETE" not in message and "disk is full" not in message  # no statement, no values
    # The leases are still there (nothing could be deleted) ...
    assert holders(engine) == {"cases": "run-1", "registration": "run-1", "inspections": "run-1"}


def test_lease_left_by_a_failed_release_is_taken_over_in_this_process(engine: Engine) -> None:
    with lease_deletes_fail(engine), acquire_source_locks(engine, ["cases"], "run-1", wait=False):
        pass
    assert holders(engine) == {"cases": "run-1"}
    # Another holder of this process (the next run of a long-lived worker) takes it over,
    # publishes, and releases it for good.
    with acquire_source_locks(engine, ["cases"], "run-2", wait=False) as lease:
        assert lease.sources == ["cases"]
        assert holders(engine) == {"cases": "run-2"}
        b = make_batch("cases", *JAN)
        [record] = register_deliveries(engine, [b])
        assert publish_batch(engine, b, record, holder="run-2").status == "published"
    assert holders(engine) == {}
    # A lease a live holder still has is respected as before.
    with (
        acquire_source_locks(engine, ["cases"], "run-3", wait=False),
        pytest.raises(SourceLocked),
    ):
        acquire_source_locks(engine, ["cases"], "run-4", wait=False)
    assert holders(engine) == {}


def test_lease_left_by_a_failed_release_is_released_by_the_same_holder_next_time(
    engine: Engine,
) -> None:
    with lease_deletes_fail(engine), acquire_source_locks(engine, ["cases"], "run-1", wait=False):
        pass
    # The same holder again (an in-process rerun): it adopts the lease, and deletes it after.
    with acquire_source_locks(engine, ["cases"], "run-1", wait=False) as lease:
        assert lease.sources == ["cases"]
    assert holders(engine) == {}


RELEASE_FAILS_SCRIPT = """
import sys
sys.path.insert(0, {tests_dir!r})
from test_warehouse_lease import lease_deletes_fail
from warehouse.engine import open_warehouse
from warehouse.leases import acquire_source_locks
engine = open_warehouse({url!r})
with lease_deletes_fail(engine), acquire_source_locks(engine, ["cases"], wait=False):
    print("published")
print("done")
"""


def test_lease_left_by_a_failed_release_is_taken_over_by_the_next_run(
    warehouse_url: str, engine: Engine
) -> None:
    script = RELEASE_FAILS_SCRIPT.format(tests_dir=str(Path(__file__).parent), url=warehouse_url)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["published", "done"]
    assert "Traceback" not in done.stderr and "could not release" in done.stderr
    [holder] = holders(engine).values()  # left behind by a process that is gone
    with acquire_source_locks(engine, ["cases"], "next-run", wait=False):
        assert holders(engine) == {"cases": "next-run"}
    assert holders(engine) == {}, holder


# --- a real full disk (SQLite on a small tmpfs; needs root) ----------------------------------


def _mount_tmpfs(path: Path, size: str) -> Callable[[], None] | None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return None
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        return None
    return lambda: subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def _fill(path: Path) -> Path:
    filler = path / ".filler"
    with open(filler, "wb", buffering=0) as fp:
        try:
            while True:
                fp.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_release_on_a_really_full_disk(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    volume = tmp_path / "volume"
    umount = _mount_tmpfs(volume, "4m")
    if umount is None:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        engine = open_warehouse(f"sqlite:///{volume / 'warehouse.db'}")
        try:
            lease = acquire_source_locks(engine, ["cases"], "run-1", wait=False)
            with engine.connect() as conn:  # an empty WAL: the release must grow a file
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            filler = _fill(volume)
            caplog.set_level(logging.ERROR, logger="warehouse.leases")
            with pytest.raises(RuntimeError, match="the run's own error"), lease:
                raise RuntimeError("the run's own error")
            assert "could not release" in caplog.text
            filler.unlink()
            with acquire_source_locks(engine, ["cases"], "run-2", wait=False):
                assert holders(engine) == {"cases": "run-2"}
            assert holders(engine) == {}
        finally:
            engine.dispose()
    finally:
        umount()


def test_a_waiting_lease_says_once_whom_it_waits_for(engine: Engine) -> None:
    """What a queued backfill shows the operator (the Prefect task logs it as a warning)."""
    told: list[tuple[str, str]] = []
    first = acquire_source_locks(engine, ["cases"], "run-1", wait=False)
    polls = iter(range(3))

    def on_wait(source: str, holder: str, since: object) -> None:
        told.append((source, holder))

    def sleep_then_release(_: float) -> None:  # a few polls, then the holder finishes
        if next(polls, None) is None:
            first.release()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("warehouse.leases.time.sleep", sleep_then_release)
        with acquire_source_locks(
            engine, ["cases"], "run-2", wait=True, timeout=30, on_wait=on_wait
        ) as lease:
            assert lease.sources == ["cases"]
    assert told == [("cases", "run-1")]
