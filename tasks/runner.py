"""Which Prefect task runner executes the per-file tasks, chosen when a flow run starts.

The flows are declared once at import time, but the runner depends on settings
(`BUREAU_STATS_TASK_RUNNER`, `BUREAU_STATS_DASK_ADDRESS`, `BUREAU_STATS_MAX_PARALLEL_SOURCES`)
that must be read when the run starts, in the process that runs it (a served deployment, a
worker's subprocess, the CLI). `SettingsTaskRunner` is that late binding: it reads the settings
when the flow engine enters it and delegates everything to the real runner. prefect-dask (and
with it `distributed`) is imported only when Dask is selected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prefect.futures import PrefectFuture, PrefectFutureList
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

RUNNER_KINDS = ("thread", "dask")

# One thread per source at most: the flows themselves bound how many sources run at once.
MAX_THREADS = 9


def build_task_runner(
    kind: str, *, dask_address: str | None = None, workers: int = 2
) -> TaskRunner[Any]:
    """A fresh task runner of the requested kind (not started)."""
    kind = (kind or "thread").strip().lower()
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=MAX_THREADS)
    if kind == "dask":
        from bureau_stats.extras import require

        require("dask", "the dask task runner")
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        # A local cluster of processes, one single-threaded worker per parallel source.
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": max(1, workers),
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            }
        )
    raise ValueError(f"unknown task runner {kind!r}: use one of {', '.join(RUNNER_KINDS)}")


class SettingsTaskRunner(TaskRunner[Any]):
    """Delegates to the runner the settings select, resolved at `__enter__`."""

    def __init__(self) -> None:
        self._inner: TaskRunner[Any] | None = None
        super().__init__()

    @property
    def name(self) -> str:
        return self._inner.name if self._inner is not None else "settings"

    @property
    def inner(self) -> TaskRunner[Any] | None:
        """The runner actually used by the current run (None outside a run)."""
        return self._inner

    def duplicate(self) -> SettingsTaskRunner:
        return type(self)()

    def __enter__(self) -> SettingsTaskRunner:
        from bureau_stats.settings import load_settings

        settings = load_settings()
        self._inner = build_task_runner(
            settings.task_runner,
            dask_address=settings.dask_address,
            workers=settings.max_parallel_sources,
        )
        self._inner.__enter__()
        super().__enter__()
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        try:
            if self._inner is not None:
                self._inner.__exit__(exc_type, exc_value, traceback)
        finally:
            super().__exit__(exc_type, exc_value, traceback)

    def _started_inner(self) -> TaskRunner[Any]:
        if self._inner is None:
            raise RuntimeError("the task runner is not started")
        return self._inner

    def submit(  # type: ignore[override]
        self,
        task: Any,
        parameters: dict[str, Any],
        wait_for: Iterable[PrefectFuture[Any]] | None = None,
        dependencies: dict[str, set[Any]] | None = None,
    ) -> PrefectFuture[Any]:
        return self._started_inner().submit(task, parameters, wait_for, dependencies)

    def map(  # type: ignore[override]
        self,
        task: Any,
        parameters: dict[str, Any],
        wait_for: Iterable[PrefectFuture[Any]] | None = None,
    ) -> PrefectFutureList[Any]:
        return self._started_inner().map(task, parameters, wait_for)

    def cancel_all(self) -> None:
        if self._inner is not None and hasattr(self._inner, "cancel_all"):
            self._inner.cancel_all()
