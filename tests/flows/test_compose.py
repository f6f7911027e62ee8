"""docker-compose.yml without an open door, and the commands its services run: the Prefect API
published on localhost only, migrations as an explicit one-shot step the worker and the deploy
step wait for, a worker health check that answers, and an image whose dependencies are a layer
built before the code is copied. (No Docker engine here: the file is read as YAML and the
services' commands are run as they are written.)"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from flow_helpers import REPO, VENV_BIN, PrefectServer, free_port, run_cli

from tools.ui_pages import stop


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8")))


def _published(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host address, container port) of each published port; '' = every interface."""
    out = []
    for p in service.get("ports", []):
        parts = str(p).split(":")
        out.append((parts[0] if len(parts) == 3 else "", parts[-1]))
    return out


def test_no_port_is_published_on_every_interface() -> None:
    services = _compose()["services"]
    assert _published(services["prefect-server"]) == [("127.0.0.1", "4200")]
    for name, service in services.items():
        for host, _ in _published(service):
            assert host == "127.0.0.1", f"{name} publishes a port on every interface"


def test_migrations_run_first_as_a_one_shot_step() -> None:
    services = _compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["bureau-stats", "migrate"] and "restart" not in migrate
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["environment"]["BUREAU_STATS_WAREHOUSE_URL"].startswith("postgresql+psycopg")
    done = {"condition": "service_completed_successfully"}
    assert services["deploy"]["depends_on"]["migrate"] == done
    assert services["deploy"]["depends_on"]["prefect-server"] == {"condition": "service_healthy"}
    assert services["worker"]["depends_on"] == {"migrate": done, "deploy": done}
    deploy = services["deploy"]["command"][-1]
    assert deploy.index("deploy --all") < deploy.index("bureau-stats automations apply")
    assert "BUREAU_STATS_NOTIFY_BLOCK" in services["deploy"]["environment"]


def _health_command(service: dict[str, Any], port: int | None = None) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD"
    command = [str(VENV_BIN / "python") if test[1] == "python" else test[1], *test[2:]]
    if port is not None:
        env = service["environment"]
        command = [
            c.replace(f":{env['PREFECT_WORKER_WEBSERVER_PORT']}/", f":{port}/") for c in command
        ]
    return command


def test_the_worker_has_a_health_check_on_its_own_endpoint() -> None:
    worker = _compose()["services"]["worker"]
    assert "--with-healthcheck" in worker["command"]
    env = worker["environment"]
    assert env["PREFECT_WORKER_WEBSERVER_HOST"] == "127.0.0.1"
    command = " ".join(worker["healthcheck"]["test"])
    assert f"http://127.0.0.1:{env['PREFECT_WORKER_WEBSERVER_PORT']}/health" in command


@pytest.mark.prefect
@pytest.mark.slow
def test_the_worker_health_check_passes_while_it_runs_and_fails_after(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    worker = _compose()["services"]["worker"]
    port = free_port()
    env = prefect_server.env(
        PREFECT_WORKER_WEBSERVER_HOST="127.0.0.1", PREFECT_WORKER_WEBSERVER_PORT=str(port)
    )
    args = list(worker["command"])
    args[args.index("--pool") + 1] = f"health-{uuid.uuid4().hex[:6]}"
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(VENV_BIN / args[0]), *args[1:]], env=env, cwd=tmp_path, stdout=log, stderr=log
    )
    check = _health_command(worker, port)
    try:
        deadline = time.monotonic() + 120
        while True:
            ok = subprocess.run(check, capture_output=True, timeout=30).returncode == 0
            if ok or time.monotonic() > deadline or process.poll() is not None:
                break
            time.sleep(1)
        assert ok, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
    finally:
        stop(process, signal.SIGINT)
        log.close()
    assert subprocess.run(check, capture_output=True, timeout=30).returncode != 0


def _migrate_env(url: str, tmp_path: Path) -> dict[str, str]:
    env = PrefectServer("http://127.0.0.1:9/api", tmp_path, None).env()  # type: ignore[arg-type]
    env.update(BUREAU_STATS_WAREHOUSE_URL=url, BUREAU_STATS_VAR_DIR=str(tmp_path / "var"))
    return env


def _revisions(url: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def _heads() -> set[str]:
    from alembic.script import ScriptDirectory

    from warehouse.engine import alembic_config

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _run_migrate_twice(url: str, tmp_path: Path) -> None:
    command = _compose()["services"]["migrate"]["command"]
    for _ in range(2):  # the second run finds nothing to do
        done = run_cli(command, _migrate_env(url, tmp_path))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "warehouse schema at revision" in done.stdout
    assert _revisions(url) == _heads()


def test_migrate_brings_a_new_sqlite_warehouse_to_the_latest_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    _run_migrate_twice(url, tmp_path)


@pytest.mark.postgres
def test_migrate_brings_a_new_postgresql_warehouse_to_the_latest_revision(
    pg_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, text

    schema = f"migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{pg_url}?options=-csearch_path%3D{schema}"
    try:
        _run_migrate_twice(url, tmp_path)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_migrate_on_an_unreachable_warehouse_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
    done = run_cli(["bureau-stats", "migrate"], _migrate_env(url, tmp_path))
    assert done.returncode == 2 and done.stderr.startswith("error: cannot open warehouse")
    assert done.stderr.count("\n") == 1


# --- the image -------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        m = re.match(r"^([A-Z]+)\s+(.*)$", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    steps = _instructions()
    copies = [
        (i, shlex.split(arg.replace("--chown=bureau ", ""))[:-1])
        for i, (op, arg) in enumerate(steps)
        if op == "COPY"
    ]
    runs = [(i, arg) for i, (op, arg) in enumerate(steps) if op == "RUN"]
    deps_step = next(i for i, arg in runs if "pip install -r" in arg)
    code_step = next(i for i, arg in runs if "pip install --no-deps -e ." in arg)
    before = [p for i, paths in copies if i < deps_step for p in paths]
    assert before == ["pyproject.toml", "requirements.lock*"]  # nothing that changes with code
    after = {p.rstrip("/") for i, paths in copies if deps_step < i < code_step for p in paths}
    packages = {
        p.rstrip("*") for p in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= after and "prefect.yaml" in after
    assert not any("pip install -e ." in arg for _, arg in runs)  # the code never resolves deps


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_dependency_step_installs_what_pyproject_declares(tmp_path: Path) -> None:
    """The image's fallback when the repository has no lock file: pyproject's dependencies."""
    run = next(arg for op, arg in _instructions() if op == "RUN" and "pip install -r" in arg)
    code = re.search(r'python -c "(.+?)" >', run)
    assert code is not None
    (tmp_path / "pyproject.toml").write_bytes((REPO / "pyproject.toml").read_bytes())
    done = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == _pyproject()["project"]["dependencies"]
    if (REPO / "requirements.lock").exists():  # the lock file, once there, pins every dependency
        locked = (REPO / "requirements.lock").read_text(encoding="utf-8").lower()
        for dep in _pyproject()["project"]["dependencies"]:
            name = re.split(r"[<>=!~\[ ;]", dep, maxsplit=1)[0].lower()
            assert re.search(rf"^{re.escape(name)}(\[[^\]]*\])?==", locked, re.M), name
