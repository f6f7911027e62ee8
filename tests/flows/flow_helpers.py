"""Helpers shared by the flow tests: work folders, a Prefect server process, artifacts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TEST_PII_KEY = "test-pii-key"  # as tests/conftest.py sets it for every test
VENV_BIN = Path(sys.executable).parent

sys.path.insert(0, str(REPO))  # the repository's tools/, shared with `make screenshots`
from tools.ui_pages import clean_env, free_port, wait_healthy  # noqa: E402,F401


@dataclass
class Workdir:
    """A working folder: a landing area (a copy of the flow tests' one), a warehouse, var/."""

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


def new_workdir(src: Path, root: Path, sources: tuple[str, ...] | None = None) -> Workdir:
    """A work folder whose landing area copies `src` (all of it, or the folders of `sources`)."""
    root.mkdir(parents=True, exist_ok=True)
    for folder in sorted(src.iterdir()):
        if sources is None or folder.name in sources:
            shutil.copytree(folder, root / "landing" / folder.name)
    return Workdir(root)


# --- a real Prefect server on loopback ---------------------------------------------------------


@dataclass
class PrefectServer:
    api_url: str
    home: Path
    process: subprocess.Popen[bytes]

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(PREFECT_API_URL=self.api_url, PREFECT_HOME=str(self.home), **extra)


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
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


def artifacts_of(flow_run_id: str) -> dict[str, Any]:
    """The artifacts a flow run created, by key (latest per key)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    out: dict[str, Any] = {}
    for a in sorted(found, key=lambda a: a.created or 0):
        out[a.key or f"{a.type}-{a.id}"] = a
    return out
