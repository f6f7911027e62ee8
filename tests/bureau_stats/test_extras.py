"""ADBC and the Dask stack are extras: the project works without them, and selecting their
feature without them is one line naming what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from bureau_stats import extras
from bureau_stats.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def without_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    real = extras.find_spec
    missing = set(extras.EXTRAS.values())
    monkeypatch.setattr(extras, "find_spec", lambda name: None if name in missing else real(name))


def test_the_dev_environment_has_both_extras() -> None:
    assert extras.installed("dask") and extras.installed("adbc")


@pytest.mark.usefixtures("without_extras")
def test_dask_runner_without_its_extra_is_a_one_line_setting_error() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(task_runner="dask")
    message = caught.value.errors()[0]["msg"]
    assert "BUREAU_STATS_TASK_RUNNER=dask needs the optional dependencies [dask]" in message
    assert "pip install 'bureau-stats[dask]'" in message and "\n" not in message
    assert Settings(task_runner="thread").task_runner == "thread"


@pytest.mark.usefixtures("without_extras")
def test_runner_and_adbc_baseline_refuse_without_their_extra() -> None:
    from bench.baselines import copy_baseline
    from tasks.runner import build_task_runner

    with pytest.raises(extras.MissingExtra, match=r"^the dask task runner needs .*\[dask\]"):
        build_task_runner("dask")
    with pytest.raises(extras.MissingExtra, match=r"^the ADBC baseline needs .*\[adbc\]"):
        copy_baseline("unused", "postgresql+psycopg://unused")
    build_task_runner("thread")


def test_every_module_imports_without_the_extras() -> None:
    """A fresh interpreter where prefect_dask, dask, distributed and ADBC cannot be imported
    imports every package of the project and builds the default settings and runner."""
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys

        BLOCKED = ("prefect_dask", "dask", "distributed", "adbc_driver_postgresql",
                   "adbc_driver_manager")
        for name in BLOCKED:  # as if not installed: import fails, find_spec gives None
            sys.modules[name] = None
        seen = 0
        for package in ("bureau_stats", "connectors", "expectations", "warehouse", "metrics",
                        "report", "tasks", "flows"):
            module = importlib.import_module(package)
            for info in pkgutil.walk_packages(module.__path__, package + "."):
                if ".migrations" in info.name:
                    continue
                importlib.import_module(info.name)
                seen += 1
        from bureau_stats.extras import installed
        from bureau_stats.settings import Settings
        from tasks.runner import build_task_runner
        assert not installed("dask") and not installed("adbc")
        build_task_runner(Settings().task_runner)
        assert all(sys.modules[name] is None for name in BLOCKED)
        print(seen)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip().splitlines()[-1]) > 40
