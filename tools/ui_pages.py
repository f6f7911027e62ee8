"""The operator's pages as a browser shows them: a Prefect server on 127.0.0.1, a nightly run
through the served deployment (`bureau-stats serve`) on a small generated year, and the system's
headless Chromium reading (`--dump-dom`) or photographing (`--screenshot`) the flow-run page,
its artifacts and the HTML report, with every address but loopback unreachable.

Used by tests/flows/test_ui_browser.py and by `make screenshots` (`python -m tools.ui_pages
--out docs/img`), which writes the PNGs the docs show.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
YEAR = 2024
# Small and quick, but with rejected rows, duplicates and a correction (`_v2`) to show.
SOURCES = ("registration", "cases", "ip_cases")
SCALE = 0.05
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
RETRIED = {429, 502, 503}  # the server is busy: nothing was created, ask again
WINDOW = (1360, 900)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Prefect or bureau-stats settings, analytics off, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BUREAU_STATS_"))}
    env.update(
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        GX_ANALYTICS_ENABLED="false",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.update(extra)
    return env


def wait_healthy(api: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with {process.returncode}")
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"prefect server at {api} not healthy after {timeout} s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    process.send_signal(sig)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """`prefect server start` on 127.0.0.1:<free port>; yields its API URL."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    with open(home / "server.log", "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            # the UI's pages call the API at this address (default: port 4200)
            env=clean_env(PREFECT_HOME=str(home), PREFECT_UI_API_URL=api),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=home,
        )
        try:
            wait_healthy(api, process)
            yield api
        finally:
            stop(process)


@dataclass
class Served:
    """A finished nightly run of the served deployment."""

    api: str
    flow_run: dict[str, Any]
    artifacts: dict[str, dict[str, Any]]  # by key
    reports_dir: Path

    @property
    def ui(self) -> str:
        return self.api.removesuffix("/api")

    def flow_run_url(self) -> str:
        return f"{self.ui}/runs/flow-run/{self.flow_run['id']}"

    def artifacts_tab_url(self) -> str:
        """The run's Artifacts tab. In the new UI (/v2): the classic UI's flow-run page resets
        `?tab=Artifacts` to Logs while the run is still loading (Prefect 3.9)."""
        return f"{self.ui}/v2/runs/flow-run/{self.flow_run['id']}?tab=Artifacts"

    def artifact_url(self, key: str) -> str:
        return f"{self.ui}/artifacts/artifact/{self.artifacts[key]['id']}"

    def html_report(self) -> Path:
        found = sorted(self.reports_dir.rglob("*.html"))
        if not found:
            raise FileNotFoundError(f"no HTML report under {self.reports_dir}")
        return found[0]


# A workbook whose sheet is not named as the contract says: read (it is the only sheet) and
# published with a warning, so that the pages have a warning to show.
SHEET_RENAMED = "cases/行政处罚案件_20240201-20240229.xlsx"


def generated_year(root: Path) -> dict[str, str]:
    """A small generated year in `root/landing` (one workbook's sheet renamed, for a warning);
    the settings of a run on it."""
    from openpyxl import load_workbook

    from demo_data import generate

    generate(YEAR, root / "landing", scale=SCALE, sources=list(SOURCES))
    book = load_workbook(root / "landing" / SHEET_RENAMED)
    book.worksheets[0].title = "Sheet1"
    book.save(root / "landing" / SHEET_RENAMED)
    return {
        "BUREAU_STATS_PII_KEY": "ui-pages-demo-key",
        "BUREAU_STATS_VAR_DIR": str(root / "var"),
        "BUREAU_STATS_LANDING": str(root / "landing"),
        "BUREAU_STATS_WAREHOUSE_URL": f"sqlite:///{root / 'warehouse.db'}",
        "BUREAU_STATS_TASK_RUNNER": "thread",
    }


def _request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    for attempt in range(6):
        r = httpx.request(method, url, timeout=30, **kwargs)
        if r.status_code not in RETRIED:
            break
        time.sleep(2**attempt)
    r.raise_for_status()
    return r


def deployment(api: str, name: str, timeout: float = 180) -> dict[str, Any]:
    """The deployment `flow/deployment`, once the serving process has registered it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{api}/deployments/name/{name}", timeout=10)
        if r.status_code == 200:
            return dict(r.json())
        time.sleep(1)
    raise TimeoutError(f"deployment {name} did not appear")


def trigger(api: str, deployment_id: str, parameters: dict[str, Any]) -> str:
    """A flow run of the deployment, as the UI's Run button creates it; returns its id."""
    r = _request(
        "POST",
        f"{api}/deployments/{deployment_id}/create_flow_run",
        json={"parameters": parameters},
    )
    return str(r.json()["id"])


def wait_final(api: str, flow_run_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _request("GET", f"{api}/flow_runs/{flow_run_id}").json()
        if run["state"] and run["state"]["type"] in FINAL:
            return dict(run)
        time.sleep(1)
    raise TimeoutError(f"flow run {flow_run_id} not finished after {timeout} s")


def _wait_childless(pid: int, timeout: float = 120) -> None:
    """Until the serving process has no child (the flow run's process exited): stopped while
    one still runs, Prefect's runner marks that run Cancelled even when it had Completed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = "".join(
            p.read_text() for p in Path(f"/proc/{pid}/task").glob("*/children") if p.exists()
        )
        if not children.strip():
            return
        time.sleep(0.5)


def artifacts_of(api: str, flow_run_id: str) -> dict[str, dict[str, Any]]:
    found = _request(
        "POST",
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "CREATED_DESC"},
    ).json()
    return {a["key"] or a["id"]: a for a in reversed(found)}  # the latest of each key


def served_nightly(api: str, root: Path, timeout: float = 900) -> Served:
    """`bureau-stats serve`, a nightly run triggered through its deployment, then stopped."""
    settings = generated_year(root)
    env = clean_env(PREFECT_API_URL=api, PREFECT_HOME=str(root / "prefect-home"), **settings)
    with open(root / "serve.log", "wb") as log:
        serve = subprocess.Popen(
            [str(BIN / "bureau-stats"), "serve"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            run_id = trigger(api, deployment(api, "nightly/nightly")["id"], {})
            run = wait_final(api, run_id, timeout)
            _wait_childless(serve.pid)
        finally:
            stop(serve)
    return Served(api, run, artifacts_of(api, run_id), root / "var" / "reports")


# --- the browser -------------------------------------------------------------------------------


def chromium() -> str:
    """The system Chromium (Debian package `chromium`)."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("no Chromium: apt-get install -y chromium")


def _browser(
    url: str, profile: Path, budget_ms: int, *extra: str, size: tuple[int, int] = WINDOW
) -> list[str]:
    return [
        chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--hide-scrollbars",
        "--mute-audio",
        # the network, but loopback, is off: names resolve to nothing, and anything that
        # still tries goes to a proxy that is not there
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
        f"--virtual-time-budget={budget_ms}",
        *extra,
        url,
    ]


def dump_dom(url: str, budget_ms: int = 30000) -> str:
    """The page's DOM after its scripts ran (`budget_ms` of virtual time)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            _browser(url, Path(profile), budget_ms, "--dump-dom"),
            capture_output=True,
            text=True,
            timeout=180,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed on {url}: {done.stderr[-2000:]}")
    return done.stdout


def read_page(url: str, showing: str, tries: int = 4) -> str:
    """The text of the page once it shows `showing` (loaded again, with more virtual time,
    while it does not: on a busy machine the app may still be fetching when time runs out)."""
    text = ""
    for attempt in range(tries):
        text = page_text(dump_dom(url, budget_ms=30000 * (attempt + 1)))
        if showing in text:
            return text
    return text


def page_text(dom: str) -> str:
    """The text a reader sees: tags and scripts out, entities decoded, blanks collapsed."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    return re.sub(r"\s+", " ", text)


def screenshot(url: str, out: Path, budget_ms: int = 30000, size: tuple[int, int] = WINDOW) -> Path:
    """A PNG of the page, reduced to a palette so that it stays small."""
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        raw = Path(profile) / "shot.png"
        args = _browser(url, Path(profile), budget_ms, f"--screenshot={raw}", size=size)
        done = subprocess.run(args, capture_output=True, text=True, timeout=180)
        if done.returncode != 0 or not raw.exists():
            raise RuntimeError(f"chromium failed on {url}: {done.stderr[-2000:]}")
        with Image.open(raw) as image:
            image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
                out, optimize=True
            )
    return out


# --- make screenshots ------------------------------------------------------------------------


def check_fonts() -> None:
    """Chromium draws Chinese with the system's fonts: without CJK ones, file names are boxes."""
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    if not found.strip():
        raise SystemExit("no CJK font for Chromium: apt-get install -y fonts-noto-cjk")


def capture(out: Path) -> list[Path]:
    """Serve, run a nightly, photograph its pages into `out`."""
    check_fonts()
    with tempfile.TemporaryDirectory(prefix="ui-pages-") as tmp:
        root = Path(tmp)
        (root / "prefect-home").mkdir()
        with prefect_server(root / "prefect-home") as api:
            served = served_nightly(api, root)
            summary = next(k for k in served.artifacts if k.endswith("-summary"))
            accounting = next(k for k in served.artifacts if k.endswith("-accounting"))
            return [
                screenshot(served.flow_run_url(), out / "flow-run.png"),
                screenshot(served.artifacts_tab_url(), out / "flow-run-artifacts.png"),
                screenshot(
                    served.artifact_url(summary),
                    out / "artifact-summary.png",
                    size=(WINDOW[0], 1300),
                ),
                screenshot(
                    served.artifact_url(accounting),
                    out / "artifact-accounting.png",
                    size=(2000, 900),
                ),
                screenshot(
                    served.html_report().as_uri(), out / "report.png", size=(WINDOW[0], 1400)
                ),
            ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args(argv)
    for path in capture(args.out):
        print(f"{path}  {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
