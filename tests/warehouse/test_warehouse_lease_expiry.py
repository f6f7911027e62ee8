"""Leases that expire (issue 21 item 5): a holder renews its lease; one that stops (killed,
on a host whose pids mean nothing here) loses it after its time to live; a live holder never
does; `bureau-stats unlock` shows the holder and releases it after confirmation."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner
from warehouse_factory import make_batch

from warehouse.leases import (
    SourceLocked,
    acquire_source_locks,
    lease_of,
    process_space,
)
from warehouse.ledger import register_deliveries, utc_now
from warehouse.publish import publish_batch
from warehouse.schema import source_lock

REPO = Path(__file__).resolve().parents[2]
TTL = 2.0  # seconds: short, so expiry is seen within the test

# A holder in another process that says it runs on another host: no pid to check here.
HOLDER_SCRIPT = """
import sys, time
from warehouse.engine import open_warehouse
from warehouse.leases import acquire_source_locks
engine = open_warehouse({url!r})
lease = acquire_source_locks(engine, ["cases"], {holder!r}, wait=False, ttl={ttl!r})
print("held", flush=True)
time.sleep(600)
"""


def start_holder(url: str, holder: str, ttl: float) -> subprocess.Popen[str]:
    script = HOLDER_SCRIPT.format(url=url, holder=holder, ttl=ttl)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "held", f"the holder did not start (exit {proc.poll()})"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def holder_of(engine: Engine, source: str) -> str | None:
    lease = lease_of(engine, source)
    return lease.holder if lease else None


def test_a_killed_holder_on_another_host_is_taken_over_after_expiry(
    warehouse_url: str, engine: Engine
) -> None:
    proc = start_holder(warehouse_url, "flow-1@elsewhere:4242", TTL)
    try:
        time.sleep(TTL)  # a few heartbeats: the lease stays live while its holder runs
        assert not lease_of(engine, "cases").expired()  # type: ignore[union-attr]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        killed_at = utc_now()
        expires_at = lease_of(engine, "cases").expires_at  # type: ignore[union-attr]
        assert expires_at is not None and expires_at > killed_at
        with pytest.raises(SourceLocked, match="flow-1@elsewhere:4242"):
            acquire_source_locks(engine, ["cases"], "next-run", wait=False, ttl=TTL)
        with acquire_source_locks(
            engine, ["cases"], "next-run", wait=True, timeout=10 * TTL, ttl=TTL, poll_seconds=0.1
        ) as lease:
            taken_at = utc_now()
            assert lease.sources == ["cases"] and holder_of(engine, "cases") == "next-run"
            assert taken_at >= expires_at  # not before it expired
            assert taken_at - killed_at < timedelta(seconds=TTL + 5)
        assert holder_of(engine, "cases") is None
    finally:
        stop(proc)


def test_a_live_holder_is_never_taken_over(warehouse_url: str, engine: Engine) -> None:
    proc = start_holder(warehouse_url, "flow-2@elsewhere:4243", 1.0)
    try:
        first = lease_of(engine, "cases")
        assert first is not None and first.heartbeat_at is not None
        started = time.monotonic()
        with pytest.raises(SourceLocked) as caught:
            acquire_source_locks(
                engine, ["cases"], "next-run", wait=True, timeout=4.0, ttl=1.0, poll_seconds=0.1
            )
        assert time.monotonic() - started >= 4.0  # four times the holder's time to live
        message = str(caught.value)
        assert "locked by flow-2@elsewhere:4243 since " in message
        assert "gave up after waiting 4 s" in message
        # The holder's heartbeat kept it alive all along, and publishing respects it.
        later = lease_of(engine, "cases")
        assert later is not None and later.holder == "flow-2@elsewhere:4243"
        assert later.heartbeat_at > first.heartbeat_at  # type: ignore[operator]
        assert not later.expired()
        b = make_batch("cases", date(2024, 1, 1), date(2024, 1, 31))
        [record] = register_deliveries(engine, [b])
        with pytest.raises(SourceLocked):
            publish_batch(engine, b, record, holder="intruder")
    finally:
        stop(proc)


def _plant(engine: Engine, holder: str, process: str | None, expires_in: float) -> None:
    now = utc_now()
    with engine.begin() as conn:
        conn.execute(
            insert(source_lock).values(
                source="cases",
                holder=holder,
                acquired_at=now,
                heartbeat_at=now,
                expires_at=now + timedelta(seconds=expires_in),
                process=process,
            )
        )


def test_a_dead_pid_counts_only_in_the_holders_own_process_space(engine: Engine) -> None:
    """Same host name, a pid that does not exist here: gone only if it is this machine's own
    pid namespace (another container with the same host name has other pids)."""
    dead = f"{socket.gethostname()}:{2**22 + 17}"
    _plant(engine, dead, "another-boot/pid:[1]", expires_in=60)
    with pytest.raises(SourceLocked):
        acquire_source_locks(engine, ["cases"], "next-run", wait=False)
    with engine.begin() as conn:
        conn.execute(source_lock.delete())
    assert process_space() is not None
    _plant(engine, dead, process_space(), expires_in=60)
    with acquire_source_locks(engine, ["cases"], "next-run", wait=False):
        assert holder_of(engine, "cases") == "next-run"


def test_a_heartbeat_stops_renewing_a_lease_released_elsewhere(engine: Engine) -> None:
    lease = acquire_source_locks(engine, ["cases"], "run-1", wait=False, ttl=0.3)
    with engine.begin() as conn:  # what `bureau-stats unlock` does
        conn.execute(source_lock.delete())
    time.sleep(0.5)
    assert holder_of(engine, "cases") is None  # not re-created by the heartbeat
    assert lease.release()


# --- bureau-stats unlock -----------------------------------------------------------------------


@pytest.fixture()
def cli() -> CliRunner:
    import bureau_stats.cli.leases  # noqa: F401  (registers the command)

    return CliRunner()


def test_unlock_shows_the_holder_and_asks_first(
    cli: CliRunner, warehouse_url: str, engine: Engine
) -> None:
    from bureau_stats.cli.app import app

    _plant(engine, "flow-3@gone-host:7", None, expires_in=300)
    args = ["unlock", "cases", "--warehouse", warehouse_url]
    declined = cli.invoke(app, args, input="n\n")
    assert declined.exit_code == 1, declined.output
    assert "locked by flow-3@gone-host:7" in declined.output
    assert "since " in declined.output and "+08:00" in declined.output
    assert "Release the lease of cases?" in declined.output and "not released" in declined.output
    assert holder_of(engine, "cases") == "flow-3@gone-host:7"

    done = cli.invoke(app, args, input="y\n")
    assert done.exit_code == 0, done.output
    assert "released the lease of cases held by flow-3@gone-host:7" in done.output
    assert holder_of(engine, "cases") is None

    free = cli.invoke(app, args)
    assert free.exit_code == 0 and "source cases is not locked" in free.output

    _plant(engine, "flow-4@gone-host:8", None, expires_in=300)
    forced = cli.invoke(app, [*args, "--yes"])
    assert forced.exit_code == 0 and "Release the lease" not in forced.output
    assert holder_of(engine, "cases") is None


def test_unlock_refuses_an_unknown_source(cli: CliRunner, engine: Engine) -> None:
    from bureau_stats.cli.app import app

    done = cli.invoke(app, ["unlock", "registratoin", "--yes"])
    assert done.exit_code == 2
    assert "unknown source 'registratoin'" in done.output and "registration" in done.output
    with engine.connect() as conn:
        assert conn.execute(select(source_lock)).all() == []


def test_a_lease_without_an_expiry_gets_the_default_one(engine: Engine) -> None:
    """A row written without `expires_at` (by hand, or before migration 0003): it expires the
    default time to live after it was taken, like any other."""
    fresh = utc_now()
    with engine.begin() as conn:
        conn.execute(
            insert(source_lock).values(source="cases", holder="h@far:1", acquired_at=fresh)
        )
    with pytest.raises(SourceLocked):
        acquire_source_locks(engine, ["cases"], "next-run", wait=False)
    with engine.begin() as conn:
        conn.execute(source_lock.update().values(acquired_at=fresh - timedelta(seconds=301)))
    assert lease_of(engine, "cases").expired()  # type: ignore[union-attr]
    with acquire_source_locks(engine, ["cases"], "next-run", wait=False):
        assert holder_of(engine, "cases") == "next-run"
