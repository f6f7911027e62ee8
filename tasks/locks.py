"""Per-source publish leases: a backfill and the nightly run never publish the same source at once.

The lease lives in the warehouse (`source_lock` table, `warehouse.leases.acquire_source_locks`),
so it holds across processes, hosts and task runners, and it says who holds it: the holder is
`<flow run id>@<host>:<pid>`, and every publish transaction checks it. A lease whose flow run
Prefect knows to be finished (crashed, cancelled, failed) is stale and is taken over, so a
crashed run does not block the next one (the warehouse itself lets a lease expire when its
holder stops renewing it, and detects a killed process of the same machine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prefect import task

from tasks.context import settings_for, step_logger, warehouse
from tasks.retry import RETRIES, RETRY_DELAYS, RETRY_JITTER, retry_on_transient


class SourcesBusy(RuntimeError):
    """Another run holds the lease of a source this run needs."""

    def __init__(
        self, source: str, holder: str, since: datetime | None, waited: float | None = None
    ) -> None:
        self.source = source
        self.holder = holder
        self.since = since
        self.waited = waited
        self.flow_run_id = holder.split("@", 1)[0]
        when = f" since {since.isoformat(timespec='seconds')}" if since else ""
        advice = (
            f"gave up after waiting {waited:g} s (BUREAU_STATS_LOCK_WAIT_SECONDS); if that run "
            "is gone, its lease expires by itself, or `bureau-stats unlock` releases it"
            if waited is not None
            else "wait for it to finish, or pass --wait (deployment parameter wait=true) to queue"
        )
        super().__init__(
            f"source {source!r} is locked by flow run {self.flow_run_id} ({holder}){when}; "
            + advice
        )


def _holder_finished(holder: str) -> bool:
    """True when the holder is a Prefect flow run in a final state (its lease is stale)."""
    from uuid import UUID

    try:
        run_id = UUID(holder.split("@", 1)[0])
    except ValueError:
        return False
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
    except Exception:  # unknown to this server, or no server: not provably stale
        return False
    return state is not None and state.is_final()


def _release(engine: object, holder: str, sources: list[str]) -> None:
    from warehouse.leases import SourceLease

    lease = SourceLease(engine, holder)  # type: ignore[arg-type]
    lease.sources = list(sources)
    if not lease.release():  # logged by release(); raising lets Prefect retry the task
        raise RuntimeError(f"could not release the lease on {', '.join(sources)}")


@task(
    name="lock-sources",
    task_run_name="lock {sources}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
)
def lock_sources(
    sources: list[str],
    holder: str,
    overrides: dict[str, str],
    wait: bool = False,
    timeout: float | None = None,
    each: bool = False,
) -> Leases:
    """Lease the sources; what this call newly leased, and the sources it could not lease.

    All or none by default (a backfill): raises SourcesBusy (who holds it, since when) when
    refused, or when still refused after `timeout` seconds of waiting. With `each` (the
    nightly run), every source on its own: one held past `timeout`, or whose lease the
    database refused, is reported in `refused` (its files stay pending) and the others run.
    """
    settings = settings_for(overrides)
    engine = warehouse(settings)
    wait_for = settings.lock_wait_seconds if timeout is None else timeout
    ttl = settings.lease_ttl_seconds
    if not each:
        return Leases(_lease(engine, sources, holder, wait, wait_for, ttl))
    leases = Leases([])
    for source in sorted(set(sources)):
        try:
            leases.locked += _lease(engine, [source], holder, wait, wait_for, ttl)
        except SourcesBusy as exc:
            step_logger(__name__).error("%s", exc)
            leases.refused[source] = str(exc)
        except Exception as exc:  # the database itself (down, disk full): the next run
            step_logger(__name__).error(
                "%s: cannot take the source lease (%s)", source, type(exc).__name__
            )
            leases.refused[source] = f"lease error ({type(exc).__name__})"
    return leases


@dataclass
class Leases:
    """The sources a run leased, and those it could not (source -> why)."""

    locked: list[str]
    refused: dict[str, str] = field(default_factory=dict)


def _lease(
    engine: object,
    sources: list[str],
    holder: str,
    wait: bool,
    timeout: float | None,
    ttl: float | None,
) -> list[str]:
    from warehouse.leases import SourceLocked, acquire_source_locks

    logger = step_logger(__name__)

    def waiting(source: str, other: str, since: datetime) -> None:
        logger.warning("waiting for source %s: locked by %s since %s", source, other, since)

    for _ in range(len(sources) + 1):  # each round may clear one stale lease
        try:
            lease = acquire_source_locks(
                engine,  # type: ignore[arg-type]
                sources,
                holder,
                wait=wait,
                timeout=timeout,
                ttl=ttl,
                on_wait=waiting,
            )
        except SourceLocked as exc:
            if exc.holder != holder and _holder_finished(exc.holder):
                _release(engine, exc.holder, [exc.source])
                continue
            raise SourcesBusy(exc.source, exc.holder, exc.since, exc.waited) from None
        return lease.sources
    raise SourcesBusy(sources[0], "stale leases kept reappearing", None)


@task(
    name="unlock-sources",
    task_run_name="unlock {sources}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
)
def unlock_sources(sources: list[str], holder: str, overrides: dict[str, str]) -> None:
    """Release the leases this run took."""
    _release(warehouse(settings_for(overrides)), holder, sources)
