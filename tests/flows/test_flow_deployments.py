"""prefect.yaml, docker-compose.yml and the Dockerfile: they parse, agree with the code, and
name only things that exist in the project. (No Docker engine here: the commands they run are
exercised against a real Prefect server in test_flow_server.py.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from flows.deployments import DEPLOYMENTS, NIGHTLY_CRON, TIMEZONE, WORK_POOL, load_flow

REPO = Path(__file__).resolve().parents[2]


def _yaml(name: str) -> Any:
    return yaml.safe_load((REPO / name).read_text(encoding="utf-8"))


def test_prefect_yaml_declares_the_three_deployments_as_the_code_does() -> None:
    doc = _yaml("prefect.yaml")
    by_name = {d["name"]: d for d in doc["deployments"]}
    assert set(by_name) == {s.name for s in DEPLOYMENTS} == {"nightly", "backfill", "annual-report"}
    for spec in DEPLOYMENTS:
        d = by_name[spec.name]
        assert d["entrypoint"] == spec.entrypoint
        path, func = spec.entrypoint.split(":")
        assert (REPO / path).is_file()
        assert load_flow(spec).fn.__name__ == func
        assert d["work_pool"]["name"] == WORK_POOL
        assert tuple(d["tags"]) == spec.tags
        assert d.get("concurrency_limit") == spec.concurrency_limit
        schedules = d.get("schedules") or []
        if spec.cron:
            assert schedules == [{"cron": NIGHTLY_CRON, "timezone": TIMEZONE, "active": True}]
        else:
            assert schedules == []
    assert by_name["nightly"]["schedules"][0]["cron"] == "0 2 * * *"
    assert by_name["nightly"]["schedules"][0]["timezone"] == "Asia/Shanghai"


def test_backfill_and_report_parameters_are_typed_for_the_ui() -> None:
    from flows.annual_report import annual_report
    from flows.backfill import backfill

    props = backfill.parameters.model_dump()["properties"]
    assert props["start"]["format"] == "date" and props["end"]["format"] == "date"
    assert props["force"]["type"] == "boolean" and props["dry_run"]["type"] == "boolean"
    assert props["wait"]["type"] == "boolean"
    report = annual_report.parameters.model_dump()
    assert report["properties"]["year"]["type"] == "integer" and report["required"] == ["year"]


def test_runner_deployments_carry_the_schedule() -> None:
    from flows.deployments import runner_deployments

    deps = {d.name: d for d in runner_deployments()}
    nightly = deps["nightly"].schedules[0].schedule
    assert (nightly.cron, nightly.timezone) == ("0 2 * * *", "Asia/Shanghai")
    assert not deps["backfill"].schedules and not deps["annual-report"].schedules


def test_env_example_names_every_variable_the_compose_file_reads() -> None:
    """`cp .env.example .env` (the compose file's first instruction) must leave nothing out."""
    import re

    used = set(re.findall(r"\$\{([A-Z_]+)", (REPO / "docker-compose.yml").read_text()))
    example = (REPO / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z_]+)=", example, flags=re.MULTILINE))
    assert used and used <= named, used - named
    required = {v for v in used if f"${{{v}:?" in (REPO / "docker-compose.yml").read_text()}
    assert {m for m in re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE)} == required
    assert ".env" in (REPO / ".gitignore").read_text().split()  # the filled-in copy holds secrets


def test_docker_compose_parses_and_names_what_the_project_has() -> None:
    doc = _yaml("docker-compose.yml")
    services = doc["services"]
    assert {"postgres", "prefect-server", "deploy", "worker", "docs"} <= set(services)
    # our image is built from the repository's Dockerfile; the others are pinned public images
    built = [s for s in services.values() if "build" in s]
    assert [s["build"] for s in built] == ["."] and (REPO / "Dockerfile").is_file()
    image = built[0]["image"]
    for name, s in services.items():
        assert ":" in s["image"], name
        if s["image"] == image or name in ("deploy", "worker"):
            assert s["image"] == image
    # the commands exist: console scripts of the installed project, and Prefect's CLI
    assert services["prefect-server"]["command"][:3] == ["prefect", "server", "start"]
    worker = services["worker"]["command"]
    assert (
        worker[:3] == ["prefect", "worker", "start"]
        and worker[worker.index("--pool") + 1] == WORK_POOL
    )
    deploy = services["deploy"]["command"][-1]
    assert f"prefect work-pool create {WORK_POOL} --type process" in deploy
    assert "prefect --no-prompt deploy --all" in deploy
    # the worker sees the volumes and settings the flows read
    env = services["worker"]["environment"]
    for key in (
        "BUREAU_STATS_WAREHOUSE_URL",
        "BUREAU_STATS_PII_KEY",
        "BUREAU_STATS_LANDING",
        "BUREAU_STATS_DATA_DOCS_DIR",
        "BUREAU_STATS_REPORTS_DIR",
        "PREFECT_API_URL",
    ):
        assert key in env
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    mounts = {v.rsplit(":", 1)[1] for v in services["worker"]["volumes"]}
    assert {
        env["BUREAU_STATS_LANDING"],
        env["BUREAU_STATS_DATA_DOCS_DIR"],
        env["BUREAU_STATS_REPORTS_DIR"],
    } <= mounts
    assert env["BUREAU_STATS_WAREHOUSE_URL"].startswith("postgresql+psycopg://")
    assert (
        "postgresql+asyncpg://"
        in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    )
    assert "CREATE DATABASE prefect" in doc["configs"]["create-prefect-db"]["content"]
    # no secret written in the file itself
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    assert "${BUREAU_STATS_PII_KEY:?" in text and "${POSTGRES_PASSWORD:?" in text


def test_dockerfile_copies_what_exists_and_installs_the_project() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    copied = re.findall(r"^COPY (?:--chown=\S+ )?(.+?) \S+$", text, flags=re.M)
    paths = [p for line in copied for p in shlex.split(line)]
    assert "pyproject.toml" in paths and "prefect.yaml" in paths
    for p in paths:
        assert p.endswith("*") or (REPO / p).exists(), p  # a glob may match nothing
    packages = _yaml_like_packages()
    assert packages <= {p.rstrip("/") for p in paths}
    assert "pip install --no-deps -e ." in text and "bureau-stats --help" in text
    assert "PREFECT_SERVER_ANALYTICS_ENABLED=false" in text


def _yaml_like_packages() -> set[str]:
    """The top-level packages pyproject.toml installs (tool.setuptools.packages.find.include)."""
    import tomllib

    doc = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return {p.rstrip("*") for p in doc["tool"]["setuptools"]["packages"]["find"]["include"]}
