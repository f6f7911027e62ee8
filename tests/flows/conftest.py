"""Fixtures for the flow tests: ONE Prefect test harness per session, a loaded warehouse, and a
real Prefect server on loopback for the end-to-end and Dask tests (started only if needed).

Flows read their settings from the environment when they run, so each test points
`BUREAU_STATS_*` at its own working folder (a copy of the samples and its own SQLite file).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("BUREAU_STATS_SHARED", REPO.parent / "shared")) / "samples"
TEST_PII_KEY = "test-pii-key"  # as tests/conftest.py sets it for every test
VENV_BIN = Path(sys.executable).parent


@dataclass
class Workdir:
    """A working folder: a landing area (copy of the samples), a warehouse, var/."""

    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def warehouse_url(self) -> str:
        return f"sqlite:///{self.root / 'warehouse.db'}"

    def env(self) -> dict[str, str]:
        return {
            "BUREAU_STATS_PII_KEY": TEST_PII_KEY,
            "BUREAU_STATS_VAR_DIR": str(self.var),
            "BUREAU_STATS_LANDING": str(self.landing),
            "BUREAU_STATS_WAREHOUSE_URL": self.warehouse_url,
            "BUREAU_STATS_TASK_RUNNER": "thread",
        }

    def copy_to(self, target: Path) -> Workdir:
        """An independent copy (landing, warehouse, var) to change without touching this one."""
        shutil.copytree(self.root, target, dirs_exist_ok=True)
        return Workdir(target)


def new_workdir(root: Path, sources: tuple[str, ...] | None = None) -> Workdir:
    root.mkdir(parents=True, exist_ok=True)
    src = SAMPLES / "landing"
    for folder in sorted(src.iterdir()):
        if sources is None or folder.name in sources:
            shutil.copytree(folder, root / "landing" / folder.name)
    return Workdir(root)


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server (SQLite) for every flow test of the session."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    storage = tmp_path_factory.mktemp("prefect-results")
    with prefect_test_harness(server_startup_timeout=120), temporary_settings(
        updates={PREFECT_LOCAL_STORAGE_PATH: storage}
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
    """The samples after one nightly run (the session's reference state)."""

    workdir: Workdir
    state: Any
    result: Any
    flow_run_id: str


@pytest.fixture(scope="session")
def loaded(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """One nightly run over all the samples, shared read-only by many tests."""
    from flows.nightly import nightly
    from tasks.context import dispose_engines

    w = new_workdir(tmp_path_factory.mktemp("loaded"))
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


# --- a real Prefect server on loopback ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrefectServer:
    api_url: str
    home: Path
    process: subprocess.Popen[bytes]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BUREAU_STATS_"))}
        env.update(
            PREFECT_API_URL=self.api_url,
            PREFECT_HOME=str(self.home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            GX_ANALYTICS_ENABLED="false",
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.update(extra)
        return env


def wait_healthy(api_url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with {process.returncode}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"prefect server at {api_url} not healthy after {timeout} s")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """`prefect server start` on 127.0.0.1:<free port>, its own PREFECT_HOME, analytics off."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = PrefectServer(api_url, home, None).env()  # type: ignore[arg-type]
    env.pop("PREFECT_API_URL")
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


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A `bureau-stats` (or other venv) command, as an operator would type it."""
    exe = args[0] if "/" in args[0] else str(VENV_BIN / args[0])
    return subprocess.run(
        [exe, *args[1:]],
        env=env,
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
