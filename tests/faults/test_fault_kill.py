"""A run killed while publishing: the warehouse shows nothing of the file, the next run
completes it, and the figures are exactly those of a clean run.

The kills are real process deaths: `crash_entry.py` runs the command with a probe that makes the
publishing process `os._exit` at a named point inside the publish transaction (no rollback, no cleanup: what a
SIGKILL does), and the slow test sends SIGKILL from outside at moments of the run it does not
choose (`make soak`).
"""

from __future__ import annotations

import signal
import time
from datetime import date
from pathlib import Path

import pytest
from fault_helpers import (
    CRASH_EXIT,
    FINAL,
    assert_consistent,
    cli,
    cli_killed_at,
    copy_landing,
    current_rows,
    figures,
    ingest_in_process,
    ledger,
    popen,
    run_env,
    snapshot,
)

from warehouse.engine import open_warehouse

# Points inside publish_batch's transaction, in the order it reaches them.
BEFORE_COMMIT = ("after_lock", "after_stage", "after_insert", "before_commit")


@pytest.mark.slow
def test_killed_at_each_point_of_publish_then_the_next_run_matches_a_clean_run(
    warehouse_url: str, year_landing: Path, reference, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    # The first half of the year is already loaded when the night's run starts.
    copy_landing(year_landing, landing, until=date(2024, 6, 30))
    first = ingest_in_process(warehouse_url, landing, tmp_path / "var")
    assert first.exit_code == 0
    copy_landing(year_landing, landing)
    engine = open_warehouse(warehouse_url)
    env = run_env(tmp_path / "var", warehouse_url, landing)
    try:
        before = snapshot(engine)
        for point in BEFORE_COMMIT:
            done = cli_killed_at(point, ["run", "--in-process", "--no-docs"], env)
            assert done.returncode == CRASH_EXIT, (point, done.stderr[-3000:])
            assert snapshot(engine) == before, f"killed {point}: the warehouse changed"
            assert_consistent(engine)
        pending = {f for f, s in ledger(engine).items() if s == "pending"}
        assert pending, "the killed runs registered the new deliveries first"

        # Killed just after the commit: that file is in, nothing else changed.
        done = cli_killed_at("after_commit", ["run", "--in-process", "--no-docs"], env)
        assert done.returncode == CRASH_EXIT, done.stderr[-3000:]
        now = ledger(engine)
        finished = {f for f in pending if now[f] in FINAL}
        assert len(finished) == 1, finished
        assert_consistent(engine)

        done = cli(["run", "--in-process", "--no-docs"], env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert_consistent(engine)
        assert ledger(engine) == reference.statuses
        assert current_rows(engine) == reference.rows
        assert figures(engine) == reference.figures
    finally:
        engine.dispose()


@pytest.mark.soak
def test_sigkill_from_outside_at_several_moments_then_resume(
    warehouse_url: str, year_landing: Path, reference, tmp_path: Path
) -> None:
    """SIGKILL after 2, 7, 12, … files are finished (wherever the run is at that moment:
    reading, auditing, in the publish transaction, between files)."""
    landing = tmp_path / "landing"
    copy_landing(year_landing, landing)
    env = run_env(tmp_path / "var", warehouse_url, landing)
    engine = open_warehouse(warehouse_url)
    kills = 0
    try:
        target = 2
        while True:
            proc = popen(["run", "--in-process", "--no-docs"], env)
            try:
                while proc.poll() is None:
                    done = sum(s in FINAL for s in ledger(engine).values())
                    if done >= target:
                        proc.send_signal(signal.SIGKILL)
                        break
                    time.sleep(0.05)
                proc.wait(120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(30)
            assert_consistent(engine)
            if proc.returncode == 0:
                break
            assert proc.returncode == -signal.SIGKILL, (
                proc.stderr.read()[-3000:] if proc.stderr else ""
            )
            kills += 1
            target += 5
        assert kills >= 3, "the run finished before it could be killed three times"
        assert ledger(engine) == reference.statuses
        assert current_rows(engine) == reference.rows
        assert figures(engine) == reference.figures
    finally:
        engine.dispose()
