"""The years a run refreshes: at once on PostgreSQL (each year's mart, then its report), one
after the other on SQLite, in both executors. The steps are stand-ins that only record what
ran when: the refresh itself is covered by the run-model and report tests."""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar
from typing import Any

import pytest

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/never_opened"
RUN: ContextVar[str] = ContextVar("run", default="none")


class Recorder:
    """Stand-ins for refresh_metrics and render_annual_report."""

    def __init__(self, meet: int = 1, fail: int | None = None) -> None:
        self.events: list[tuple[str, int, str]] = []
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.meet = threading.Barrier(meet, timeout=20) if meet > 1 else None
        self.fail = fail

    def _note(self, what: str, year: int) -> None:
        with self.lock:
            self.events.append((what, year, RUN.get()))

    def mart(self, year: int, overrides: dict[str, str], as_of: Any = None) -> int:
        self._note("mart", year)
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            if self.meet is not None:
                self.meet.wait()  # every year's mart running at the same time, or a timeout
            time.sleep(0.05)
            if year == self.fail:
                raise ValueError(f"mart {year}")
        finally:
            with self.lock:
                self.now -= 1
        self._note("mart done", year)
        return 1

    def report(
        self, year: int, overrides: dict[str, str], as_of: Any, formats: Any = None
    ) -> list[str]:
        time.sleep(0.2)  # noted when it ends: a refresh that raised early would miss it
        self._note("report", year)
        return [f"report_{year}.md"]


def _in_process(monkeypatch: pytest.MonkeyPatch, url: str, recorder: Recorder) -> Any:
    from bureau_stats.settings import load_settings
    from flows import run
    from flows.executors import InProcessExecutor

    monkeypatch.setattr(run, "refresh_metrics", recorder.mart)
    monkeypatch.setattr(run, "render_annual_report", recorder.report)
    return InProcessExecutor(load_settings(warehouse_url=url))


def test_in_process_refreshes_postgresql_years_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.run import refresh_years

    recorder = Recorder(meet=2)
    executor = _in_process(monkeypatch, PG, recorder)
    token = RUN.set("run-1")
    try:
        years, reports = refresh_years(executor, [2024, 2023, 2024])
    finally:
        RUN.reset(token)
    assert years == [2023, 2024]
    assert reports == ["report_2023.md", "report_2024.md"]  # in year order, whatever finished first
    assert recorder.most == 2
    for year in years:  # each report after its own mart
        order = [e[0] for e in recorder.events if e[1] == year]
        assert order == ["mart", "mart done", "report"]
    assert {e[2] for e in recorder.events} == {"run-1"}  # the run's context, on every thread


def test_a_failed_year_fails_the_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.run import refresh_years

    recorder = Recorder(meet=2, fail=2023)
    executor = _in_process(monkeypatch, PG, recorder)
    with pytest.raises(ValueError, match="mart 2023"):
        refresh_years(executor, [2023, 2024])
    reports = [e[:2] for e in recorder.events if e[0] == "report"]
    assert reports == [("report", 2024)]  # not after its failed mart; the other year ended first


def test_sqlite_years_one_after_the_other(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from flows.run import refresh_years

    recorder = Recorder()
    executor = _in_process(monkeypatch, f"sqlite:///{tmp_path / 'w.db'}", recorder)
    assert refresh_years(executor, [2023, 2024]) == (
        [2023, 2024],
        ["report_2023.md", "report_2024.md"],
    )
    assert recorder.most == 1
    assert [e[:2] for e in recorder.events] == [
        ("mart", 2023),
        ("mart done", 2023),
        ("report", 2023),
        ("mart", 2024),
        ("mart done", 2024),
        ("report", 2024),
    ]


def test_prefect_executor_runs_the_years_as_concurrent_task_runs(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow, task

    from bureau_stats.settings import load_settings
    from flows import run
    from flows.executors import PrefectExecutor
    from flows.run import RunSetup, refresh_years

    recorder = Recorder(meet=2)
    monkeypatch.setattr(run, "refresh_metrics", task(recorder.mart, name="refresh-metrics"))
    monkeypatch.setattr(run, "render_annual_report", task(recorder.report, name="render-report"))

    @flow
    def refresh() -> tuple[list[int], list[str]]:
        setup = RunSetup("nightly", {}, "test")
        executor = PrefectExecutor(setup, load_settings(warehouse_url=PG))
        return refresh_years(executor, [2023, 2024])

    assert refresh() == ([2023, 2024], ["report_2023.md", "report_2024.md"])
    assert recorder.most == 2
    for year in (2023, 2024):
        assert [e[0] for e in recorder.events if e[1] == year] == ["mart", "mart done", "report"]


@pytest.mark.timeout(300)
def test_prefect_executor_a_failed_year_fails_the_flow(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow, task

    from bureau_stats.settings import load_settings
    from flows import run
    from flows.executors import PrefectExecutor
    from flows.run import RunSetup, refresh_years

    recorder = Recorder(meet=2, fail=2024)
    mart = task(recorder.mart, name="refresh-metrics", retries=0)
    monkeypatch.setattr(run, "refresh_metrics", mart)
    monkeypatch.setattr(run, "render_annual_report", task(recorder.report, name="render-report"))

    @flow
    def refresh() -> tuple[list[int], list[str]]:
        setup = RunSetup("nightly", {}, "test")
        return refresh_years(PrefectExecutor(setup, load_settings(warehouse_url=PG)), [2023, 2024])

    with pytest.raises(ValueError, match="mart 2024"):
        refresh()
    assert [e[:2] for e in recorder.events if e[0] == "report"] == [("report", 2023)]
