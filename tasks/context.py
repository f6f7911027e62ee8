"""Settings and the warehouse engine as tasks see them, wherever they run.

A run reads its settings once, where it starts (a CLI command, a flow run), into a
`RunContext` (settings + engine) that the steps of that run see (`settings_for`, `warehouse`):
on the calling thread, and in Prefect's task threads, which copy the context. Flows also pass
tasks the settings the operator overrode (plain strings, never a secret), so a task in another
process (a Dask worker), where no context is set, reads its own environment, or the Prefect
Secret blocks it names (`tasks.secret_blocks`). One Engine per warehouse URL and process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bureau_stats.settings import Settings

# Settings a run may override (flow parameters / CLI options); all plain, none secret.
OVERRIDABLE = (
    "landing",
    "warehouse_url",
    "reject_threshold",
    "data_docs_dir",
    "reports_dir",
    "var_dir",
    "max_parallel_sources",
)

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def clean_overrides(**values: Any) -> dict[str, str]:
    """The non-empty overrides, as strings (they travel as task parameters)."""
    unknown = set(values) - set(OVERRIDABLE)
    if unknown:
        raise ValueError(f"not overridable per run: {', '.join(sorted(unknown))}")
    return {k: str(v) for k, v in values.items() if v is not None and v != ""}


@dataclass(frozen=True)
class RunContext:
    """What every step of one run shares: its settings, read once, and its warehouse."""

    settings: Settings
    engine: Engine


_CURRENT: ContextVar[RunContext | None] = ContextVar("bureau_stats_run", default=None)


@contextmanager
def run_context(settings: Settings, engine: Engine | None = None) -> Iterator[RunContext]:
    """Make `settings` (and `engine`, default: the process's engine on its warehouse) the
    run's for the block."""
    context = RunContext(settings, engine if engine is not None else _engine_for(settings))
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def current_run() -> RunContext | None:
    return _CURRENT.get()


def settings_for(overrides: dict[str, str] | None = None) -> Settings:
    """The run's settings; outside a run context (another process), read from the
    environment with the run's overrides."""
    context = _CURRENT.get()
    if context is not None:
        return context.settings
    from bureau_stats.settings import load_settings
    from tasks.secret_blocks import install

    install()  # this process may run tasks whose settings name Prefect Secret blocks
    return load_settings(**(overrides or {}))


def warehouse(settings: Settings) -> Engine:
    """The run's Engine, or the process's Engine on the configured warehouse (schema migrated
    on first use)."""
    context = _CURRENT.get()
    if context is not None and context.settings is settings:
        return context.engine
    return _engine_for(settings)


def _engine_for(settings: Settings) -> Engine:
    url = settings.resolved_warehouse_url()
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            from warehouse.engine import open_warehouse

            engine = open_warehouse(url)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (end of a CLI command, tests)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def step_logger(name: str) -> Any:
    """The Prefect run logger inside a flow or task run (the UI shows its lines), else the
    module's logger: the same step runs under both executors."""
    from prefect.context import FlowRunContext, TaskRunContext

    if TaskRunContext.get() is not None or FlowRunContext.get() is not None:
        from prefect import get_run_logger

        return get_run_logger()
    return logging.getLogger(name)
