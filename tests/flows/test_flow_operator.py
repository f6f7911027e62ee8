"""The operator's day in the Prefect UI (issue 21, items 1-3): run names, the closed `sources`
choice, project log lines in the run's log, warnings and overdue deliveries in the artifacts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

MARCH = (date(2024, 3, 1), date(2024, 3, 31))


def _flow_run(flow_run_id: str) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)  # type: ignore[arg-type]


def test_nightly_run_is_named_after_the_bureaus_date(loaded: Any) -> None:
    from flows.run_names import bureau_today

    assert _flow_run(loaded.flow_run_id).name == f"nightly {bureau_today().isoformat()}"


def test_backfill_run_names_its_range_and_sources(loaded_copy: Any) -> None:
    from flows.backfill import backfill

    state = backfill(
        start=MARCH[0], end=MARCH[1], sources=["registration"], dry_run=True, return_state=True
    )
    assert state.is_completed()
    name = _flow_run(str(state.state_details.flow_run_id)).name
    assert name == "backfill 2024-03-01..2024-03-31 [registration] (dry run)"


def test_unknown_source_is_refused_before_anything_is_planned(loaded_copy: Any) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from connectors.sources import SOURCES
    from flows.backfill import backfill

    state = backfill(
        start=MARCH[0], end=MARCH[1], sources=["registratoin"], dry_run=True, return_state=True
    )
    assert state.is_failed()
    assert "sources" in (state.message or "")
    assert all(name in (state.message or "") for name in SOURCES), state.message
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    assert tasks == []  # nothing surveyed, nothing planned


def test_sources_is_a_closed_choice_in_the_deployment_form() -> None:
    from connectors.sources import SOURCES
    from flows.backfill import backfill

    sources = backfill.parameters.model_dump()["properties"]["sources"]
    items = next(s["items"] for s in sources["anyOf"] if s.get("type") == "array")
    assert items["enum"] == list(SOURCES)
