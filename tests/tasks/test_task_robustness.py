"""Retries only on transient errors; the task runner the settings select."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from tasks.retry import is_transient, quiet_soft_timeout_notice, retry_on_transient
from tasks.runner import SettingsTaskRunner, build_task_runner


class _Orig(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ConnectionResetError("peer"), True),
        (TimeoutError("slow share"), True),
        (OSError("stale NFS handle"), True),
        (OperationalError("SELECT 1", {}, _Orig("server closed the connection")), True),
        (DBAPIError("SELECT 1", {}, _Orig("x"), connection_invalidated=True), True),
        (DBAPIError("SELECT 1", {}, _Orig("x"), connection_invalidated=False), False),
        (FileNotFoundError("gone"), False),
        (PermissionError("denied"), False),
        (ValueError("a data error is not an exception worth retrying"), False),
        (KeyError("bug"), False),
    ],
)
def test_only_transient_errors_are_retried(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_a_wrapped_error_counts_by_its_cause() -> None:
    from warehouse.engine import WarehouseError

    try:
        try:
            raise OperationalError("connect", {}, _Orig("connection refused"))
        except OperationalError as inner:
            raise WarehouseError("cannot open warehouse") from inner
    except WarehouseError as outer:
        assert is_transient(outer)
    assert not is_transient(WarehouseError("not a valid SQLAlchemy URL"))


def test_task_timeouts_are_not_retried() -> None:
    from prefect.task_engine import TaskRunTimeoutError

    assert not is_transient(TaskRunTimeoutError("Scope timed out after 1800 second(s)."))


def test_retry_condition_reads_the_failed_state() -> None:
    from prefect.states import Failed

    assert retry_on_transient(None, None, Failed(data=ConnectionResetError("x")))
    assert not retry_on_transient(None, None, Failed(data=ValueError("x")))


def test_soft_timeout_notice_is_dropped_once_per_run_not_the_other_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_soft_timeout_notice()
    quiet_soft_timeout_notice()
    logger = logging.getLogger("prefect.task_runs")
    assert len(logger.filters) >= 1
    record = logging.LogRecord(
        "prefect.task_runs",
        logging.WARNING,
        __file__,
        1,
        "Timeout of 1800 seconds configured for this task, but the task is running in a worker "
        "thread. Timeouts in worker threads cannot interrupt blocking operations",
        None,
        None,
    )
    other = logging.LogRecord(
        "prefect.task_runs", logging.WARNING, __file__, 1, "retrying", None, None
    )
    assert not all(f.filter(record) for f in logger.filters)
    assert all(f.filter(other) for f in logger.filters)


def test_runner_kinds() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert isinstance(build_task_runner("thread"), ThreadPoolTaskRunner)
    local = build_task_runner("dask", workers=2)
    assert isinstance(local, DaskTaskRunner)
    assert local.cluster_kwargs["n_workers"] == 2
    remote = build_task_runner("dask", dask_address="tcp://scheduler:8786")
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://scheduler:8786"
    with pytest.raises(ValueError, match="unknown task runner"):
        build_task_runner("ray")


def test_settings_runner_is_chosen_when_the_run_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner

    runner = SettingsTaskRunner()
    assert runner.inner is None  # nothing read at import / declaration time
    monkeypatch.setenv("BUREAU_STATS_TASK_RUNNER", "thread")
    with runner.duplicate() as started:
        assert isinstance(started.inner, ThreadPoolTaskRunner)
        assert started.name == "threadpool"
    monkeypatch.setenv("BUREAU_STATS_TASK_RUNNER", "spark")
    with pytest.raises(ValueError, match="unknown task runner"):
        SettingsTaskRunner().__enter__()


def test_the_file_stack_is_imported_from_several_threads_at_once() -> None:
    """What each per-file task does first: in a fresh process, four threads at once."""
    code = (
        "import os, sys, threading\n"
        "from tasks.files import import_file_pipeline\n"
        "errors = []\n"
        "def first():\n"
        "    try: import_file_pipeline()\n"
        "    except BaseException as e: errors.append(repr(e))\n"
        "threads = [threading.Thread(target=first) for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "assert not errors, errors\n"
        "assert {'great_expectations', 'expectations.audit', 'bureau_stats.pipeline'} "
        "<= set(sys.modules)\n"
        "print(os.environ['GX_ANALYTICS_ENABLED'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GX_ANALYTICS_ENABLED"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "false"
