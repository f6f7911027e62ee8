"""Settings and the warehouse engine as tasks see them, wherever they run.

Flows pass tasks only the settings the operator overrode for this run (plain strings: the
landing folder given on the command line, ...), never a secret: each process reads the PII key
and the warehouse URL from its own environment, or loads the Prefect Secret blocks the
environment names (`tasks.secret_blocks`; tasks in the flow's process reuse what the flow
loaded when it started). One Engine per warehouse URL and process.
"""

from __future__ import annotations

import threading
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


def settings_for(overrides: dict[str, str] | None = None) -> Settings:
    from bureau_stats.settings import load_settings
    from tasks.secret_blocks import install

    install()  # this process may run tasks whose settings name Prefect Secret blocks
    return load_settings(**(overrides or {}))


def warehouse(settings: Settings) -> Engine:
    """The process's Engine on the configured warehouse (schema migrated on first use)."""
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
