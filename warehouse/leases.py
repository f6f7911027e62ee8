"""Source leases that expire: a run keeps the sources it publishes for itself, across
transactions, and says who holds them (`source_lock`: holder, since when, last heartbeat).

A holder renews its leases (a background thread of its process, every third of the lease's
time to live); a lease whose holder stopped renewing it expires and is taken over by the next
run, whatever host the holder ran on. A lease of a process of this very machine that is gone
(same host, same kernel boot, same pid namespace) is taken over at once, and so is one this
process could not release. A live holder's lease is never taken over.

The mutual exclusion of publishing itself is the database lock held by each publish
transaction (`publish_transaction`: pg_advisory_lock / SQLite BEGIN IMMEDIATE), which also
refuses to publish a source another live holder has leased. Clocks of the hosts
sharing a warehouse must agree to well within the time to live (NTP).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from warehouse.engine import writer
from warehouse.ledger import as_utc, utc_now
from warehouse.schema import source_lock

log = logging.getLogger(__name__)

DEFAULT_LEASE_TTL_SECONDS = 300.0  # a lease nobody renewed for this long has expired
DEFAULT_LOCK_WAIT_SECONDS = 1800.0  # how long a run waits for a source another run holds
DEFAULT_TTL = timedelta(seconds=DEFAULT_LEASE_TTL_SECONDS)


class SourceLocked(RuntimeError):
    """Another holder has the lease of a source (and it has not expired)."""

    def __init__(
        self,
        source: str,
        holder: str,
        since: datetime | None,
        *,
        heartbeat: datetime | None = None,
        waited: float | None = None,
    ) -> None:
        self.source, self.holder, self.since = source, holder, since
        self.heartbeat, self.waited = heartbeat, waited
        when = f" since {since.isoformat(timespec='seconds')}" if since else ""
        beat = f" (last heartbeat {heartbeat.isoformat(timespec='seconds')})" if heartbeat else ""
        gave_up = f"; gave up after waiting {waited:g} s" if waited is not None else ""
        super().__init__(f"source {source!r} is locked by {holder}{when}{beat}{gave_up}")


@dataclass(frozen=True)
class LeaseInfo:
    """A lease as `source_lock` shows it (for `bureau-stats unlock`)."""

    source: str
    holder: str
    acquired_at: datetime
    heartbeat_at: datetime | None
    expires_at: datetime | None

    def expired(self, now: datetime | None = None) -> bool:
        expires = self.expires_at or (self.heartbeat_at or self.acquired_at) + DEFAULT_TTL
        return expires <= (now or utc_now())


def source_lock_key(source: str) -> int:
    """A stable signed 64-bit pg_advisory lock key per source."""
    digest = hashlib.sha256(f"bureau-stats/source/{source}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def default_holder(flow_run_id: str | None = None) -> str:
    """Who holds a lock: `<flow run id>@host:pid` for a flow run (the flow passes its id),
    else `host:pid`."""
    host_pid = f"{socket.gethostname()}:{os.getpid()}"
    return f"{flow_run_id}@{host_pid}" if flow_run_id else host_pid


@cache
def process_space() -> str | None:
    """This machine's kernel boot and pid namespace: a pid means the same process only
    within the same one (another container may share the host name, not the pids)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        pid_ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}/{pid_ns}"


def _process_is_gone(holder: str, space: str | None) -> bool:
    """A lease left by a process of this very machine that no longer exists (killed)."""
    here = process_space()
    if space is None or here is None or space != here:
        return False
    host, _, pid = holder.rsplit("@", 1)[-1].rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _insert_if_absent(conn: Connection, values: dict[str, Any]) -> bool:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(source_lock).values(**values).on_conflict_do_nothing()
    return bool(conn.execute(stmt).rowcount)


# Leases whose release failed (their owner was done, the database refused the DELETE: a full
# disk, a lost connection): (warehouse, source, holder). They are stale, not held: this process
# takes them over (or, for the same holder, adopts them) at its next acquire or publish; other
# processes do once they expire (nothing renews them).
_abandoned: set[tuple[str, str, str]] = set()
_abandoned_lock = threading.Lock()


def _warehouse_key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _is_abandoned(engine: Engine, source: str, holder: str) -> bool:
    with _abandoned_lock:
        return (_warehouse_key(engine), source, holder) in _abandoned


def _forget_abandoned(engine: Engine, source: str, *holders: str) -> None:
    key = _warehouse_key(engine)
    with _abandoned_lock:
        _abandoned.difference_update((key, source, h) for h in holders)


def _why_stale(conn: Connection, row: Any, now: datetime) -> str | None:
    """Why nobody uses this lease any more, or None while its holder is alive."""
    if _is_abandoned(conn.engine, row.source, row.holder):
        return "its release failed in this process"
    beat = as_utc(row.heartbeat_at or row.acquired_at)
    # A row without an expiry (written by hand, or by a version before expiry) gets the default.
    expires = as_utc(row.expires_at) if row.expires_at is not None else beat + DEFAULT_TTL
    if expires <= now:
        return f"expired: no heartbeat since {beat.isoformat(timespec='seconds')}"
    if _process_is_gone(row.holder, row.process):
        return "its process is gone"
    return None


def _lease_values(holder: str, now: datetime, ttl: float) -> dict[str, Any]:
    return {
        "holder": holder,
        "heartbeat_at": now,
        "expires_at": now + timedelta(seconds=ttl),
        "process": process_space(),
    }


def _try_take(conn: Connection, source: str, holder: str, ttl: float) -> tuple[bool, bool, Any]:
    """(acquired, ours to delete, current row) for one source lease.

    Ours to delete: inserted now, taken over from a stale holder, or our own abandoned lease.
    """
    now = utc_now()
    values = _lease_values(holder, now, ttl)
    inserted = _insert_if_absent(conn, {"source": source, "acquired_at": now, **values})
    row = conn.execute(select(source_lock).where(source_lock.c.source == source)).one()
    if row.holder == holder:
        if not inserted:  # re-entrant: renewed like a heartbeat
            conn.execute(update(source_lock).where(source_lock.c.source == source).values(values))
        return True, inserted or _is_abandoned(conn.engine, source, holder), row
    why = _why_stale(conn, row, now)
    if why is not None:
        log.warning(
            "taking over the lease of %s held by %s since %s (%s)",
            source,
            row.holder,
            as_utc(row.acquired_at).isoformat(timespec="seconds"),
            why,
        )
        taken = conn.execute(
            update(source_lock)
            .where(source_lock.c.source == source, source_lock.c.holder == row.holder)
            .values(acquired_at=now, **values)
        ).rowcount
        return bool(taken), bool(taken), row
    return False, False, row


# --- heartbeats --------------------------------------------------------------------------------


@dataclass
class _Held:
    engine: Engine
    sources: set[str]
    ttl: float
    due: float  # time.monotonic() of the next renewal


class _Heartbeat:
    """One daemon thread per process renewing every lease it holds, each every ttl/3 seconds.

    A lease that is gone when renewed (released elsewhere, or unlocked by an operator) is
    dropped with a warning; a failed renewal (database busy or away) is retried sooner and
    logged by error type only.
    """

    def __init__(self) -> None:
        self.held: dict[tuple[str, str], _Held] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def hold(self, engine: Engine, holder: str, sources: Iterable[str], ttl: float) -> None:
        with self.lock:
            if self.pid != os.getpid():  # a forked child holds nothing of its parent's
                self.held.clear()
                self.thread, self.pid = None, os.getpid()
            key = (_warehouse_key(engine), holder)
            entry = self.held.get(key)
            due = time.monotonic() + ttl / 3
            if entry is None:
                self.held[key] = _Held(engine, set(sources), ttl, due)
            else:
                entry.sources.update(sources)
                entry.ttl, entry.due = min(entry.ttl, ttl), min(entry.due, due)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="lease-heartbeat", daemon=True
                )
                self.thread.start()
        self.wake.set()

    def drop(self, engine: Engine, holder: str, sources: Iterable[str]) -> None:
        key = (_warehouse_key(engine), holder)
        with self.lock:
            entry = self.held.get(key)
            if entry is not None:
                entry.sources.difference_update(sources)
                if not entry.sources:
                    del self.held[key]

    def held_sources(self, engine: Engine, holder: str) -> set[str]:
        with self.lock:
            entry = self.held.get((_warehouse_key(engine), holder))
            return set(entry.sources) if entry else set()

    def _run(self) -> None:
        while True:
            with self.lock:
                if not self.held:
                    self.thread = None
                    return
                now = time.monotonic()
                due = [(h, e, sorted(e.sources)) for (_, h), e in self.held.items() if e.due <= now]
                wait = min(e.due for e in self.held.values()) - now
            for holder, entry, sources in due:
                self._renew(holder, entry, sources)
            if not due:
                self.wake.wait(max(0.05, min(wait, 60.0)))
                self.wake.clear()

    def _renew(self, holder: str, entry: _Held, sources: list[str]) -> None:
        now = utc_now()
        try:
            with writer(entry.engine) as conn:
                conn.execute(
                    update(source_lock)
                    .where(source_lock.c.source.in_(sources), source_lock.c.holder == holder)
                    .values(heartbeat_at=now, expires_at=now + timedelta(seconds=entry.ttl))
                )
                kept = set(
                    conn.execute(
                        select(source_lock.c.source).where(
                            source_lock.c.source.in_(sources), source_lock.c.holder == holder
                        )
                    ).scalars()
                )
        except Exception as exc:  # busy or away: try again soon, the lease has time left
            log.warning(
                "could not renew the lease of %s held by %s (%s)",
                ", ".join(sources),
                holder,
                type(exc).__name__,
            )
            entry.due = time.monotonic() + max(entry.ttl / 10, 0.05)
            return
        lost = set(sources) - kept
        if lost:
            log.warning(
                "the lease of %s held by %s is gone (released or unlocked)", ", ".join(lost), holder
            )
            self.drop(entry.engine, holder, lost)
        entry.due = time.monotonic() + entry.ttl / 3


_heartbeat = _Heartbeat()


# --- acquiring and releasing -----------------------------------------------------------------


class SourceLease:
    """Publish leases on sources, visible in `source_lock` (who holds it, since when).

    The mutual exclusion of publishing itself is the database lock taken inside each publish
    transaction (pg_advisory_xact_lock / SQLite BEGIN IMMEDIATE); the lease lets a long
    operation (a run, a backfill) keep a source for itself across many transactions, and lets
    an operator see who has it. Renewed in the background until released; release with
    `release()` or use as a context manager.
    """

    def __init__(self, engine: Engine, holder: str) -> None:
        self.engine, self.holder = engine, holder
        self.sources: list[str] = []  # leases this object inserted (and will delete)

    def release(self) -> bool:
        """Delete this object's leases; False when the database refused (then logged).

        Never raises for a database error (full disk, lost connection): releasing is cleanup,
        and must not replace the outcome of the run it ends. The log names the sources, the
        holder and the error type, never a statement or a value. The leases left behind are
        abandoned, not held: no longer renewed, this process takes them over at its next
        acquire or publish, and any other process once they expire. Calling `release()`
        again retries.
        """
        if not self.sources:
            return True
        sources = list(self.sources)
        _heartbeat.drop(self.engine, self.holder, sources)
        try:
            with writer(self.engine) as conn:
                conn.execute(
                    delete(source_lock).where(
                        source_lock.c.source.in_(sources), source_lock.c.holder == self.holder
                    )
                )
        except Exception as exc:
            key = _warehouse_key(self.engine)
            with _abandoned_lock:
                _abandoned.update((key, s, self.holder) for s in sources)
            log.error(
                "could not release the lease of %s held by %s (%s); it is taken over by the "
                "next run",
                ", ".join(sources),
                self.holder,
                type(exc).__name__,
            )
            return False
        for source in sources:
            _forget_abandoned(self.engine, source, self.holder)
        self.sources = []
        return True

    def __enter__(self) -> SourceLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire_source_locks(
    engine: Engine,
    sources: Iterable[str],
    holder: str | None = None,
    wait: bool = True,
    *,
    timeout: float | None = None,
    ttl: float | None = None,
    poll_seconds: float = 0.5,
    on_wait: Callable[[str, str, datetime], None] | None = None,
) -> SourceLease:
    """Lease every source in `sources` for `holder` (sorted order, so no deadlock), renewed in
    the background every `ttl`/3 seconds until released.

    `on_wait(source, holder, since)` is told once per source when it has to wait (a Prefect
    task passes its run logger: a queued backfill says in the UI and on the terminal whom it
    waits for).

    `wait=False` raises `SourceLocked(source, holder, since)` at the first source another
    live holder has (releasing what was taken); `wait=True` polls until free, or until
    `timeout` seconds (None: DEFAULT_LOCK_WAIT_SECONDS; `math.inf`: no limit) and then raises
    it. `ttl` is the leases' time to live (None: DEFAULT_LEASE_TTL_SECONDS). Expired leases, leases of a killed
    process of this machine, and leases this process could not release are taken over.
    Re-entrant: a source already leased by the same holder counts as acquired.
    """
    ttl = DEFAULT_LEASE_TTL_SECONDS if ttl is None else ttl
    timeout = DEFAULT_LOCK_WAIT_SECONDS if timeout is None else timeout
    if ttl <= 0:
        raise ValueError(f"a lease's time to live must be positive, got {ttl}")
    lease = SourceLease(engine, holder or default_holder())
    started = time.monotonic()
    try:
        for source in sorted(set(sources)):
            announced = False
            while True:
                with writer(engine) as conn:
                    acquired, ours, row = _try_take(conn, source, lease.holder, ttl)
                if acquired:
                    if ours:
                        lease.sources.append(source)
                        _forget_abandoned(engine, source, lease.holder, row.holder)
                    _heartbeat.hold(engine, lease.holder, [source], ttl)
                    break
                since = as_utc(row.acquired_at)
                beat = as_utc(row.heartbeat_at) if row.heartbeat_at is not None else None
                waited = time.monotonic() - started
                if not wait:
                    raise SourceLocked(source, row.holder, since, heartbeat=beat)
                if waited >= timeout:
                    raise SourceLocked(source, row.holder, since, heartbeat=beat, waited=timeout)
                if not announced:
                    log.info(
                        "waiting for source %s, locked by %s since %s", source, row.holder, since
                    )
                    if on_wait is not None:
                        on_wait(source, row.holder, since)
                    announced = True
                time.sleep(poll_seconds)
    except BaseException:
        lease.release()
        raise
    return lease


@contextmanager
def publish_transaction(
    engine: Engine, source: str, holder: str
) -> Iterator[tuple[Connection, datetime]]:
    """The transaction publishing (or quarantining) a file of `source`, begun once the source's
    database lock is held, with its stamp: the moment its rows are published at and older
    rows superseded at, after any wait for the lock, so a source's stamps follow the order
    its publishes commit in.

    PostgreSQL: the lock is taken on the session before the transaction begins, and the
    stamp is the transaction's start (`transaction_timestamp()`, the database's clock), the
    source tables' `published_at` default: COPY leaves that column off the wire. SQLite: the
    transaction begins with BEGIN IMMEDIATE (which excludes other writers) and the stamp is
    this host's clock. Either way another live holder's lease refuses it (`SourceLocked`).
    """
    if engine.dialect.name != "postgresql":
        with writer(engine) as conn:
            _respect_lease(conn, source, holder)
            yield conn, utc_now()
        return
    key = source_lock_key(source)
    with engine.connect() as conn:
        try:  # also around the wait: a wait cut short may still have been granted the lock
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()  # a session lock outlives it; the stamp's transaction begins below
            with conn.begin():
                stamp = conn.execute(text("SELECT transaction_timestamp()")).scalar_one()
                _respect_lease(conn, source, holder)
                yield conn, as_utc(stamp)
        finally:
            _unlock_session(conn, key)


def _unlock_session(conn: Connection, key: int) -> None:
    """Release a session lock before the connection goes back to the pool; a connection that
    cannot is closed instead (the server releases a closed session's locks)."""
    try:
        if not conn.invalidated:
            conn.rollback()  # what a failed lock wait may have left open
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
            return
    except SQLAlchemyError:
        log.warning("could not release a source's session lock: closing its connection")
    conn.invalidate()


def _respect_lease(conn: Connection, source: str, holder: str) -> None:
    """Refuse to publish a source another live holder has leased; renew our own lease (a long
    publish keeps it alive even when the heartbeat must wait)."""
    row = conn.execute(select(source_lock).where(source_lock.c.source == source)).first()
    if row is None:
        return
    now = utc_now()
    if row.holder == holder:
        if row.expires_at is not None:
            ttl = (
                as_utc(row.expires_at) - as_utc(row.heartbeat_at or row.acquired_at)
            ).total_seconds()
            conn.execute(
                update(source_lock)
                .where(source_lock.c.source == source)
                .values(heartbeat_at=now, expires_at=now + timedelta(seconds=max(ttl, 1)))
            )
        return
    if _why_stale(conn, row, now) is None:
        beat = as_utc(row.heartbeat_at) if row.heartbeat_at is not None else None
        raise SourceLocked(source, row.holder, as_utc(row.acquired_at), heartbeat=beat)


# --- operators ---------------------------------------------------------------------------------


def lease_of(engine: Engine, source: str) -> LeaseInfo | None:
    """The lease of `source` as it stands, or None when nobody holds it."""
    with engine.connect() as conn:
        row = conn.execute(select(source_lock).where(source_lock.c.source == source)).first()
    if row is None:
        return None
    return LeaseInfo(
        source=row.source,
        holder=row.holder,
        acquired_at=as_utc(row.acquired_at),
        heartbeat_at=as_utc(row.heartbeat_at) if row.heartbeat_at is not None else None,
        expires_at=as_utc(row.expires_at) if row.expires_at is not None else None,
    )


def break_lease(engine: Engine, source: str, holder: str) -> bool:
    """Release `holder`'s lease of `source` on an operator's word (`bureau-stats unlock`);
    False when that holder no longer has it (released or taken over meanwhile)."""
    with writer(engine) as conn:
        done = conn.execute(
            delete(source_lock).where(
                source_lock.c.source == source, source_lock.c.holder == holder
            )
        )
    if done.rowcount:
        log.warning("released the lease of %s held by %s (unlock)", source, holder)
    return bool(done.rowcount)
