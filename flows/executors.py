"""The run model's two executors; they differ only in how they execute the plan's files.

Both read the files ahead in reader processes (`bureau_stats.read_ahead`), audit each in
this process and publish them one at a time in the run's order (`bureau_stats.pipeline.convey`):
- `InProcessExecutor` runs the steps as plain functions and publishes on a publisher thread;
- `PrefectExecutor` runs the steps as Prefect tasks and each file as a `process-file` task
  (named after the file, retried on IO errors, its outcome persisted for a retried flow run),
  fed by the same reader process. Under the Dask task runner the file tasks read their files
  themselves on the workers (`flows.execute.run_plan`).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bureau_stats.outcome import FileOutcome
from bureau_stats.pipeline import convey, largest_sources_first, local_submitter
from bureau_stats.read_ahead import Read, ReadAhead
from bureau_stats.reader_limits import ReaderLimits
from flows.execute import failed_outcome, run_plan, skipped_outcome
from flows.run import RunSetup
from tasks.context import warehouse
from tasks.files import HANDOFFS, Handoff, process_file
from tasks.plan import BackfillPlan, PlannedFile, render_plan

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bureau_stats.settings import Settings
    from warehouse.ledger import BatchRecord, Delivery

log = logging.getLogger(__name__)

Order = list[tuple[PlannedFile, "Delivery", "BatchRecord"]]


def reading_order(engine: Engine, plan: BackfillPlan) -> Order:
    """The plan's files to process with their ledger rows: sources with the most bytes first,
    each source's files in the plan's (delivery) order."""
    from warehouse.ledger import Delivery, load_record

    todo: dict[str, Order] = {}
    for f in plan.to_process:
        if f.landing is None or f.batch_id is None:
            raise ValueError(f"{f.file}: not registered, or no content to process")
        delivery = Delivery(file=f.landing, sha256=f.sha256, size=f.size)
        todo.setdefault(f.source, []).append(
            (f, delivery, load_record(engine, f.batch_id, "resumed"))
        )
    return [item for items in largest_sources_first(todo).values() for item in items]


class _Base:
    """The plan walk both executors share: skipped files, the reader, outcomes in plan order."""

    settings: Settings
    read_seconds = 0.0

    def _execute(
        self,
        plan: BackfillPlan,
        progress: Any,
        engine: Engine,
        submit: Callable[..., Any],
    ) -> list[FileOutcome]:
        from connectors.spool import spooling

        outcomes: dict[int, FileOutcome] = {
            id(f): skipped_outcome(f) for f in plan.files if not f.processed
        }
        order = reading_order(engine, plan)
        settings = self.settings

        def done(f: PlannedFile, outcome: FileOutcome) -> None:
            outcome.action = f.action
            outcomes[id(f)] = outcome
            progress.advance(outcome)

        with spooling(settings.resolved_spool_dir()) as spool_dir:
            reader = ReadAhead(
                [(d, r) for _, d, r in order],
                pii_key=settings.pii_key_bytes(),
                threshold=Decimal(settings.reject_threshold),
                mode=settings.read_ahead,
                spool_dir=spool_dir,
                limits=ReaderLimits.from_settings(settings),
                readers=settings.readers,
            )
            with reader:
                convey(order, reader, submit, done)
            self.read_seconds += reader.seconds
        return [outcomes[id(f)] for f in plan.files]


class InProcessExecutor(_Base):
    """Steps as plain functions; files audited here and published on a publisher thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        flow: str = "nightly",
        flow_run_id: str | None = None,
        on_progress: Callable[[int, int, FileOutcome | None], None] | None = None,
    ) -> None:
        from warehouse.leases import default_holder

        self.settings = settings
        self.setup = RunSetup(flow, {}, default_holder(flow_run_id), flow_run_id)
        self.on_progress = on_progress

    def step(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(task, "fn", task)(*args, **kwargs)

    def submit(self, task: Any, *args: Any, wait_for: Sequence[Any] = ()) -> Future[Any]:
        """`step` on a thread of its own, in this run's context, once `wait_for` finished."""
        future: Future[Any] = Future()
        context = contextvars.copy_context()

        def run() -> None:
            try:
                for before in wait_for:
                    before.result()
                future.set_result(context.run(self.step, task, *args))
            except BaseException as exc:  # handed to whoever waits for the result
                future.set_exception(exc)

        name = getattr(task, "name", getattr(task, "__name__", "step"))
        threading.Thread(target=run, name=f"step-{name}", daemon=True).start()
        return future

    def show_plan(self, plan: BackfillPlan, dry_run: bool) -> None:
        log.info("%s", render_plan(plan))

    @contextmanager
    def progress(self, total: int) -> Iterator[Any]:
        yield _Callback(self.on_progress, total)

    def execute(self, plan: BackfillPlan, progress: Any) -> list[FileOutcome]:
        engine = warehouse(self.settings)
        reopen = {id(f) for f in plan.to_process if f.action in ("republish", "revalidate")}
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish") as publisher:
            submit = local_submitter(
                engine,
                publisher,
                threshold=Decimal(self.settings.reject_threshold),
                data_docs_dir=self.settings.resolved_data_docs_dir(),
                holder=self.setup.holder,
                flow_run_id=self.setup.flow_run_id,
                reopen=lambda f: id(f) in reopen,
            )
            return self._execute(plan, progress, engine, submit)


class _Callback:
    """Progress as `on_progress(done, total, outcome)` calls (the CLI's bar)."""

    def __init__(self, on_progress: Callable[[int, int, Any], None] | None, total: int) -> None:
        self.on_progress, self.total, self.done = on_progress, total, 0
        if on_progress is not None:
            on_progress(0, total, None)

    def advance(self, outcome: FileOutcome) -> None:
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.total, outcome)


@dataclass
class _TaskFlight:
    """One file's `process-file` task, with what the reader handed it."""

    planned: PlannedFile
    future: Any  # PrefectFuture[FileOutcome]
    key: str
    handoff: Handoff

    @property
    def audited(self) -> Any:
        return self.handoff.audited

    def wait(self) -> FileOutcome:
        self.future.wait()  # the final state, from the runner (the API may not have it yet)
        try:
            if self.future.state.is_completed():
                outcome: FileOutcome = self.future.result()
                return outcome
            return failed_outcome(self.planned, self.future)
        finally:
            HANDOFFS.pop(self.key, None)
            self.handoff.discard()


class PrefectExecutor(_Base):
    """Steps as Prefect tasks; each file a `process-file` task fed by the reader process."""

    def __init__(self, setup: RunSetup, settings: Settings) -> None:
        self.setup = setup
        self.settings = settings

    def step(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        return task(*args, **kwargs)

    def submit(self, task: Any, *args: Any, wait_for: Sequence[Any] = ()) -> Any:
        """A task run beside the flow's (the flow's task runner), after `wait_for`."""
        return task.submit(*args, wait_for=list(wait_for))

    def show_plan(self, plan: BackfillPlan, dry_run: bool) -> None:
        from prefect import get_run_logger
        from prefect.artifacts import create_markdown_artifact

        shown = render_plan(plan)
        create_markdown_artifact(
            f"# Backfill plan{' (dry run)' if dry_run else ''}\n\n```\n{shown}\n```",
            key="backfill-plan",
            description=f"Backfill {plan.start}..{plan.end}: "
            f"{len(plan.to_process)} file(s) to process",
        )
        get_run_logger().info("%s", shown)

    def progress(self, total: int) -> Any:
        from tasks.progress import RunProgress

        return RunProgress(self.setup.flow, total)

    def execute(self, plan: BackfillPlan, progress: Any) -> list[FileOutcome]:
        if (self.settings.task_runner or "thread").strip().lower() == "dask":
            return run_plan(
                plan,
                overrides=self.setup.overrides,
                holder=self.setup.holder,
                max_parallel=max(1, int(self.settings.max_parallel_sources)),
                progress=progress,
            )
        overrides, holder = self.setup.overrides, self.setup.holder

        def submit(f: PlannedFile, record: Any, read: Read, before: Any) -> _TaskFlight:
            key = uuid.uuid4().hex
            handoff = HANDOFFS[key] = Handoff(
                read=None if isinstance(read, FileOutcome) else read,  # the task reads again
                before=before.future if before is not None else None,
            )
            future = process_file.submit(f, overrides, holder, key)
            future.add_done_callback(lambda _: handoff.audited.set())
            return _TaskFlight(f, future, key, handoff)

        return self._execute(plan, progress, warehouse(self.settings), submit)
