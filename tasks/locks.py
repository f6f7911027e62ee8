"""Per-source publish locks: a backfill and the nightly run never publish the same source at once.

The lock lives in the warehouse (`source_lock` table, `warehouse.publish.acquire_source_locks`),
so it holds across processes, hosts and task runners, and it says who holds it: the holder is
the flow run id. A lock whose holder is a flow run Prefect knows to be finished (crashed,
cancelled, failed) is stale: it is released before trying again, so a crashed run does not
block the next one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task

from tasks.context import settings_for, warehouse
from tasks.retry import RETRIES, RETRY_DELAYS, RETRY_JITTER, retry_on_transient


class SourcesBusy(RuntimeError):
    """Another run holds a lock on a source this run needs."""

    def __init__(self, source: str, holder: str, since: datetime | None) -> None:
        self.source = source
        self.holder = holder
        self.since = since
        when = f" since {since.isoformat(timespec='seconds')}" if since else ""
        super().__init__(
            f"source {source!r} is locked by flow run {holder}{when}; "
            "wait for it to finish, or pass --wait (deployment parameter wait=true) to queue"
        )


def _holder_finished(holder: str) -> bool:
    """True when the holder is a Prefect flow run in a final state (its lock is stale)."""
    from uuid import UUID

    try:
        run_id = UUID(holder)
    except ValueError:
        return False
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
    except Exception:  # unknown to this server, or no server: not provably stale
        return False
    return state is not None and state.is_final()


@task(
    name="lock-sources",
    task_run_name="lock {sources}",
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
)
def lock_sources(
    sources: list[str], holder: str, overrides: dict[str, str], wait: bool = False
) -> list[str]:
    """Take the publish lock of every source (all or none); raise SourcesBusy if refused."""
    from warehouse.publish import SourceLocked, acquire_source_locks, release_source_locks

    engine = warehouse(settings_for(overrides))
    if not sources:
        return []
    try:
        acquire_source_locks(engine, sources, holder, wait=wait)
    except SourceLocked as exc:
        if exc.holder != holder and _holder_finished(exc.holder):
            release_source_locks(engine, exc.holder)
            return lock_sources.fn(sources, holder, overrides, wait)
        raise SourcesBusy(exc.source, exc.holder, exc.since) from None
    return sorted(sources)


@task(name="unlock-sources", task_run_name="unlock sources", retries=RETRIES, retry_delay_seconds=RETRY_DELAYS)
def unlock_sources(holder: str, overrides: dict[str, str]) -> None:
    from warehouse.publish import release_source_locks

    release_source_locks(warehouse(settings_for(overrides)), holder)


def describe_holder(holder: str) -> dict[str, Any]:
    return {"holder": holder}
