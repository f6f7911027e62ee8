"""PostgreSQL restarted in the middle of a nightly run: the files in flight are retried, and
the warehouse ends with every row once, none lost (the figures of a clean run).

Restarts the real local server (`pg_ctlcluster … restart`), which other test sessions use
too: `make soak` only (soak marker). The server is brought back up whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_helpers import (
    FINAL,
    assert_consistent,
    copy_landing,
    current_rows,
    figures,
    ledger,
    popen,
    run_env,
)
from sqlalchemy import Engine, create_engine, exc, text
from sqlalchemy.pool import NullPool

from warehouse.engine import open_warehouse
from warehouse.leases import source_lock_key

PG_ADMIN_URL = os.environ.get(
    "BUREAU_STATS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
pytestmark = [pytest.mark.postgres, pytest.mark.soak, pytest.mark.prefect]


def _cluster() -> list[str]:
    version = sorted(os.listdir("/etc/postgresql"), key=lambda v: float(v))[-1]
    return [version, "main"]


def _pg_ctl(action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *_cluster(), action],
        capture_output=True,
        text=True,
        timeout=180,
    )


def _is_up() -> bool:
    done = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432"], capture_output=True)
    return done.returncode == 0


def ensure_postgres_up(timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not _is_up():
        if time.monotonic() > deadline:
            _pg_ctl("start")
            deadline = time.monotonic() + timeout
        time.sleep(0.5)


def _finished(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return sum(s in FINAL for s in ledger(engine).values())
    except exc.OperationalError:
        return -1
    finally:
        engine.dispose()


def _waiting_on_advisory_lock(url: str) -> bool:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                    )
                ).scalar_one()
            )
    except exc.OperationalError:
        return False
    finally:
        engine.dispose()


@pytest.fixture()
def own_database() -> Iterator[str]:
    """A database of this test's own, managed with connections opened after the restart (the
    session's `pg_url` fixture keeps a pooled connection the restart would kill)."""
    name = f"bureau_restart_{uuid.uuid4().hex[:10]}"

    def admin() -> Engine:
        return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    engine = admin()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        ensure_postgres_up()
        engine = admin()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def test_postgres_restarted_during_a_nightly_run(
    own_database: str, year_landing: Path, reference, tmp_path: Path
) -> None:
    """The restart hits a publish for sure: this test holds the registration source's advisory
    lock, so the run's publish transaction of a registration file is open and waiting when the
    server goes down (the lock holder goes down with it)."""
    url = own_database
    landing = tmp_path / "landing"
    copy_landing(year_landing, landing)
    open_warehouse(url).dispose()
    env = run_env(tmp_path / "var", url, landing)
    blocker = create_engine(url, poolclass=NullPool).connect()
    blocker.execute(text("SELECT pg_advisory_lock(:k)"), {"k": source_lock_key("registration")})
    blocker.commit()
    proc = popen(["run", "--flow", "--no-docs"], env)  # Prefect ephemeral mode: retries on
    restarted = False
    try:
        deadline = time.monotonic() + 600
        while not _waiting_on_advisory_lock(url):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no publish ever waited for the lock"
            time.sleep(0.1)
        done = _pg_ctl("restart")
        assert done.returncode == 0, done.stderr
        restarted = True
        out, err = proc.communicate(timeout=900)
    finally:
        ensure_postgres_up()
        with contextlib.suppress(Exception):
            blocker.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert restarted
    assert proc.returncode == 0, err[-4000:]
    assert "Retr" in err, "the interrupted publish was retried"
    engine = open_warehouse(url)
    try:
        assert _finished(url) == len(reference.statuses), "some file was left behind"
        assert_consistent(engine)
        assert ledger(engine) == reference.statuses
        assert current_rows(engine) == reference.rows  # no row twice, none missing
        assert figures(engine) == reference.figures
    finally:
        engine.dispose()
