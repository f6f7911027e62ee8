"""Which failures are worth retrying: transient IO and database errors, never data errors.

A file that breaks the contract is not an exception at all (it is quarantined with a reason);
an exception out of the per-file task is either transient (network share hiccup, database
restart, lock timeout) and retried with exponential backoff and jitter, or a bug / a permanent
condition (missing file, permission) that retrying would only delay.
"""

from __future__ import annotations

import logging
from typing import Any

from prefect.tasks import exponential_backoff

RETRIES = 3
RETRY_DELAYS = exponential_backoff(backoff_factor=2)  # 2 s, 4 s, 8 s ...
RETRY_JITTER = 0.5  # each delay varies up to +50 % so parallel retries do not stampede
FILE_TIMEOUT_SECONDS = 30 * 60  # one file: extract, audit and publish
REFRESH_TIMEOUT_SECONDS = 30 * 60  # metrics of one year, or one report

# OSErrors that are a fact about the file or its permissions, not a hiccup.
_PERMANENT_OS_ERRORS = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


def is_transient(exc: BaseException) -> bool:
    """True for errors a retry can cure: connection, IO and database availability errors.

    Wrapped errors count by their cause (`WarehouseError` from an unreachable server is
    transient, from a malformed URL it is not).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _transient_itself(current):
            return True
        current = current.__cause__
    return False


def _transient_itself(exc: BaseException) -> bool:
    from prefect.task_engine import TaskRunTimeoutError

    if isinstance(exc, TaskRunTimeoutError):
        return False  # a file that takes too long will take too long again
    if isinstance(exc, _PERMANENT_OS_ERRORS):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return True
    try:
        from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
        from sqlalchemy.exc import TimeoutError as PoolTimeoutError
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return False
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only when the failure is transient."""
    try:
        state.result()
    except Exception as exc:  # the task's exception is re-raised by result()
        return is_transient(exc)
    return False


class _SoftTimeoutNotice(logging.Filter):
    """Drop Prefect's per-task notice that timeouts in worker threads are soft.

    Every per-file task runs in a worker thread (thread pool or Dask), so Prefect would log the
    same warning once per file. The behaviour it describes is accepted and documented in
    docs/operating.md: the timeout interrupts the task at its next Python instruction.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "running in a worker thread. Timeouts in worker threads" not in record.getMessage()


def quiet_soft_timeout_notice() -> None:
    logger = logging.getLogger("prefect.task_runs")
    if not any(isinstance(f, _SoftTimeoutNotice) for f in logger.filters):
        logger.addFilter(_SoftTimeoutNotice())
