"""Fixtures for the flow tests: ONE Prefect test harness per session, a loaded warehouse, and a
real Prefect server on loopback for the end-to-end and Dask tests (started only if needed).

Flows read their settings from the environment when they run, so each test points
`BUREAU_STATS_*` at its own working folder (a copy of `flow_landing` and its own SQLite file).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from corpora import Corpus
from flow_helpers import VENV_BIN, PrefectServer, Workdir, free_port, new_workdir, wait_healthy


@pytest.fixture(scope="session")
def flow_corpus(demo_corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The demo year's first deliveries (its three _v2 corrections left out): one export per
    period, as a night finds them; the backfill tests deliver corrections themselves."""
    landing = tmp_path_factory.mktemp("flow-landing") / "landing"
    firsts = {rel: acc for rel, acc in demo_corpus.accounting.items() if "_v2." not in rel}
    for rel in firsts:
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(demo_corpus.landing / rel, landing / rel)
    return replace(
        demo_corpus,
        name="flow",
        landing=landing,
        accounting=firsts,
        superseded=frozenset(),
        periods={rel: demo_corpus.periods[rel] for rel in firsts},
        reject_reasons={rel: demo_corpus.reject_reasons[rel] for rel in firsts},
    )


@pytest.fixture(scope="session")
def flow_landing(flow_corpus: Corpus) -> Path:
    return flow_corpus.landing


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server (SQLite) for every flow test of the session."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    storage = tmp_path_factory.mktemp("prefect-results")
    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: storage}),
    ):
        yield


@pytest.fixture()
def use_workdir(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point the settings at a work folder for the rest of the test."""

    def _use(w: Workdir) -> Workdir:
        for k, v in w.env().items():
            monkeypatch.setenv(k, v)
        return w

    return _use


@dataclass
class Loaded:
    """`flow_landing` after one nightly run (the session's reference state)."""

    workdir: Workdir
    state: Any
    result: Any
    flow_run_id: str


@pytest.fixture(scope="session")
def loaded(
    prefect_harness: None, flow_landing: Path, tmp_path_factory: pytest.TempPathFactory
) -> Loaded:
    """One nightly run over all of `flow_landing`, shared read-only by many tests."""
    from flows.nightly import nightly
    from tasks.context import dispose_engines

    w = new_workdir(flow_landing, tmp_path_factory.mktemp("loaded"))
    with pytest.MonkeyPatch.context() as mp:
        for k, v in w.env().items():
            mp.setenv(k, v)
        state = nightly(return_state=True)
        dispose_engines()
    result = state.result(raise_on_failure=False)
    return Loaded(w, state, result, str(state.state_details.flow_run_id))


@pytest.fixture()
def loaded_copy(loaded: Loaded, tmp_path: Path, use_workdir: Any) -> Iterator[Workdir]:
    """A private copy of the loaded state, the settings pointing at it."""
    from tasks.context import dispose_engines

    w = use_workdir(loaded.workdir.copy_to(tmp_path / "work"))
    yield w
    dispose_engines()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """`prefect server start` on 127.0.0.1:<free port>, its own PREFECT_HOME, analytics off."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = PrefectServer(api_url, home, None).env()  # type: ignore[arg-type]
    env.pop("PREFECT_API_URL")
    env["PREFECT_UI_API_URL"] = api_url  # the UI's pages call the API here (test_ui_browser)
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    try:
        wait_healthy(api_url, process)
        yield PrefectServer(api_url, home, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
