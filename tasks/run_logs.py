"""The project's own log lines in the flow run's log (Prefect UI), at their level.

The project logs through stdlib loggers named after its packages (connectors.*, warehouse.*,
expectations.*, bureau_stats.*, tasks.*, flows.*, metrics.*, report.*), which Prefect does not
forward. `forward_project_logs()` attaches Prefect's public `APILogHandler` to them, once per
process, and lets INFO through. Called where a run starts (flow start, and the per-file task,
which under Dask runs in another process), it works the same for ephemeral runs, served
deployments and workers, with no environment to set before Prefect is imported (what
PREFECT_LOGGING_EXTRA_LOGGERS needs). A record outside any run (a plain `bureau-stats run
--in-process`) is not sent anywhere but the console. The project never logs a cell value or a
secret (masked values, counts and type names only).
"""

from __future__ import annotations

import logging

PROJECT_LOGGERS = (
    "bureau_stats",
    "connectors",
    "expectations",
    "flows",
    "metrics",
    "report",
    "tasks",
    "warehouse",
)


def _in_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _handler_class() -> type[logging.Handler]:
    from prefect.logging.handlers import APILogHandler

    class ProjectLogsToRun(APILogHandler):
        """Prefect's API handler, silent outside a flow or task run."""

        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "flow_run_id", None) is None and not _in_run():
                return
            super().emit(record)

    return ProjectLogsToRun


_installed: logging.Handler | None = None


def forward_project_logs(level: int = logging.INFO) -> logging.Handler:
    """Send the project's log records of `level` and above to the current run's log (idempotent)."""
    global _installed
    if _installed is None:
        _installed = _handler_class()(level=level)
    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        if _installed not in logger.handlers:
            logger.addHandler(_installed)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
    return _installed
