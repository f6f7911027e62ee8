"""Running a plan's files under the Dask task runner: sources in parallel (bounded), one
source's files in order, each task reading its own file on its worker (under threads the
Prefect executor feeds the tasks from the reader process instead: `flows.executors`).

Each source is a queue in delivery order; at most `max_parallel` sources have a file in flight, and a source's next file is submitted only when
its previous one finished, so rule 2 holds under any task runner (threads or Dask). Delivery
orders are registered before anything runs, so a file that is quarantined, or whose task failed
after its retries (it stays `pending` in the ledger and the next run resumes it with its
order), never stops the others.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from prefect.futures import PrefectFuture, as_completed

from bureau_stats.outcome import FileOutcome
from tasks.files import TransientFileError, process_file
from tasks.plan import BackfillPlan, PlannedFile
from tasks.progress import RunProgress


def planned_outcome(
    f: PlannedFile, status: str, reason: str | None = None, detail: str | None = None
) -> FileOutcome:
    """The outcome of a planned file that no file task reported on (skipped, refused, failed)."""
    return FileOutcome(
        file=f.file,
        source=f.source,
        status=status,
        sha256=f.sha256,
        delivery_order=f.delivery_order,
        reason=reason,
        detail=detail,
        action=f.action,
    )


def skipped_outcome(f: PlannedFile) -> FileOutcome:
    """A file the plan leaves alone (unchanged content, or content gone from the landing)."""
    if f.action == "skip":
        return planned_outcome(f, "skipped")
    return planned_outcome(f, "skipped", "missing", "content no longer in the landing area")


def _safe_error(exc: BaseException | None, message: str | None) -> str:
    """The failure without values: exception types only (a DB error's text may quote a cell)."""
    if exc is None:
        return (message or "task did not complete").splitlines()[0][:200]
    if isinstance(exc, TransientFileError):
        return str(exc)  # the pipeline's own detail: exception type names, no cell values
    names = [type(exc).__name__]
    orig = getattr(exc, "orig", None)
    if orig is not None:
        names.append(type(orig).__name__)
    return " / ".join(names)


def failed_outcome(f: PlannedFile, future: PrefectFuture[Any]) -> FileOutcome:
    """A file whose task failed after its retries (it stays pending; the next run resumes it)."""
    state = future.state
    exc: BaseException | None = None
    try:
        value = state.result(raise_on_failure=False)
        if isinstance(value, BaseException):
            exc = value
    except BaseException as e:  # a crashed task's result cannot be read
        exc = e
    reason = type(exc).__name__ if exc else (state.name or "failed")
    return planned_outcome(f, "failed", reason, _safe_error(exc, state.message))


def run_plan(
    plan: BackfillPlan,
    *,
    overrides: dict[str, str],
    holder: str,
    max_parallel: int,
    progress: RunProgress,
) -> list[FileOutcome]:
    """Process the plan's files; outcomes in the plan's order (skipped files included)."""
    outcomes: dict[int, FileOutcome] = {}
    index = {id(f): i for i, f in enumerate(plan.files)}
    for f in plan.files:
        if not f.processed:
            outcomes[index[id(f)]] = skipped_outcome(f)

    queues = {s: deque(files) for s, files in plan.queues().items()}
    waiting = deque(queues)  # sources not started yet, in order of their first file
    in_flight: dict[PrefectFuture[Any], tuple[str, PlannedFile]] = {}

    def submit_next(source: str) -> None:
        f = queues[source].popleft()
        future = process_file.submit(f, overrides, holder)
        in_flight[future] = (source, f)

    while waiting and len(in_flight) < max(1, max_parallel):
        submit_next(waiting.popleft())

    while in_flight:
        future = next(as_completed(list(in_flight)))
        source, f = in_flight.pop(future)
        future.wait()  # the final state, from the runner (the API may not have it yet)
        if future.state.is_completed():
            outcome: FileOutcome = future.result()
        else:
            outcome = failed_outcome(f, future)
        outcomes[index[id(f)]] = outcome
        progress.advance(outcome)
        if queues[source]:
            submit_next(source)
        elif waiting:
            submit_next(waiting.popleft())

    return [outcomes[i] for i in range(len(plan.files))]
