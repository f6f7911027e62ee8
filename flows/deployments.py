"""The three deployments, for `bureau-stats serve` (prefect.yaml declares the same for workers).

tests/flows/test_deployments.py checks that prefect.yaml and DEPLOYMENTS agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.bureau_time import BUREAU_TZ_NAME

NIGHTLY_CRON = "0 2 * * *"
TIMEZONE = BUREAU_TZ_NAME
WORK_POOL = "bureau-stats"


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str  # path:function, relative to the project root
    tags: tuple[str, ...]
    cron: str | None = None
    concurrency_limit: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def flow_attr(self) -> tuple[str, str]:
        path, func = self.entrypoint.split(":")
        return path.removesuffix(".py").replace("/", "."), func


DEPLOYMENTS = (
    DeploymentSpec(
        "nightly",
        "flows/nightly.py:nightly",
        ("bureau-stats", "nightly"),
        cron=NIGHTLY_CRON,
        concurrency_limit=1,
    ),
    DeploymentSpec("backfill", "flows/backfill.py:backfill", ("bureau-stats", "backfill")),
    DeploymentSpec(
        "annual-report", "flows/annual_report.py:annual_report", ("bureau-stats", "report")
    ),
)


def load_flow(spec: DeploymentSpec) -> Any:
    import importlib

    module, attr = spec.flow_attr
    return getattr(importlib.import_module(module), attr)


def runner_deployments() -> list[Any]:
    """RunnerDeployments of the three flows, schedules included, for `prefect.serve`."""
    from prefect.schedules import Cron

    out = []
    for spec in DEPLOYMENTS:
        flow = load_flow(spec)
        out.append(
            flow.to_deployment(
                name=spec.name,
                schedules=[Cron(spec.cron, timezone=TIMEZONE)] if spec.cron else None,
                concurrency_limit=spec.concurrency_limit,
                tags=list(spec.tags),
                parameters=spec.parameters,
                description=flow.description,
            )
        )
    return out


def serve_all(limit: int | None = None) -> None:
    """Serve every deployment from this process until interrupted."""
    from prefect import serve

    serve(*runner_deployments(), limit=limit)
