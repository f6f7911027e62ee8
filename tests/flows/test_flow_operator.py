"""The operator's day in the Prefect UI (issue 21, items 1-3): run names, the closed `sources`
choice, project log lines in the run's log, warnings and overdue deliveries in the artifacts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
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


MED_MARCH = "medical_device/医疗器械经营许可_20240301-20240331.csv"
MED_APRIL = "medical_device/医疗器械经营许可_20240401-20240430.csv"


def _future_concluded_on(path: Any) -> None:
    """One row of the file concluded in 2099: a warning (future date), not a reject."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    for i, line in enumerate(lines[1:], start=1):
        cells = line.split(",")
        if cells[-1] == "已办结" and cells[6]:
            cells[6] = "2099-01-05"
            lines[i] = ",".join(cells)
            break
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def medical_nightly(
    prefect_harness: None, flow_landing: Path, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """A nightly over medical_device 2024 without March, April with one date in 2099."""
    from flow_helpers import new_workdir

    from flows.nightly import nightly
    from tasks.context import dispose_engines

    w = new_workdir(flow_landing, tmp_path_factory.mktemp("medical"), ("medical_device",))
    (w.landing / MED_MARCH).unlink()
    _future_concluded_on(w.landing / MED_APRIL)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in w.env().items():
            mp.setenv(k, v)
        state = nightly(return_state=True)
        dispose_engines()
    return w, state, str(state.state_details.flow_run_id)


def _events(name: str, resource: str, run_id: str) -> list[Any]:
    """The events `name` about `resource` that flow run `run_id` emitted (the test harness's
    server is shared by the whole session: other runs emit the same events)."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    wanted = EventFilter(
        event=EventNameFilter(name=[name]), resource=EventResourceFilter(id=[resource])
    )
    for _ in range(60):  # the server stores events shortly after they arrive
        with get_client(sync_client=True) as client:
            page = client.read_events(filter=wanted, limit=50)
        mine = [
            e for e in page.events if any(r.id == f"prefect.flow-run.{run_id}" for r in e.related)
        ]
        if mine:
            return mine
        time.sleep(1)
    return []


def test_nightly_names_the_missing_month_and_emits_the_event(medical_nightly: Any) -> None:
    from flow_helpers import artifacts_of

    _, state, run_id = medical_nightly
    assert state.is_completed()
    summary = artifacts_of(run_id)["nightly-summary"].data
    assert "## Late and missing deliveries" in summary
    assert "| medical_device | 2024-03-01..2024-03-31 | 2024-04-10 |" in summary
    assert "2024-04-01..2024-04-30" not in summary.split("## Late")[1]

    [event] = _events("bureau-stats.delivery.overdue", "bureau-stats.source.medical_device", run_id)
    assert event.payload["count"] == 1
    assert event.payload["periods"][0]["period"] == ["2024-03-01", "2024-03-31"]
    assert event.payload["days_overdue"] > 900
    assert any(r.id == f"prefect.flow-run.{run_id}" for r in event.related)


def test_file_warnings_are_in_the_summary_and_the_ledger(medical_nightly: Any) -> None:
    from flow_helpers import artifacts_of

    from tasks.context import settings_for, warehouse
    from warehouse.delivery_warnings import ledger_with_warnings

    w, _, run_id = medical_nightly
    summary = artifacts_of(run_id)["nightly-summary"].data
    assert "## Warnings" in summary
    assert f"| {MED_APRIL} | future_date | concluded_on | 1 |" in summary
    assert "2099" not in summary  # a rule and a count, never the cell
    engine = warehouse(settings_for({"warehouse_url": w.warehouse_url}))
    by_file = {b["file"]: b for b in ledger_with_warnings(engine)}
    assert by_file[MED_APRIL]["warnings"] == [
        {"rule": "future_date", "column": "concluded_on", "rows": 1}
    ]
    assert by_file["medical_device/医疗器械经营许可_20240101-20240131.csv"]["warnings"] == []


def test_project_log_lines_reach_the_flow_runs_log_at_their_level(medical_nightly: Any) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    _, _, run_id = medical_nightly
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200
        )
    by_name = {(log.name, log.level) for log in logs}
    assert ("warehouse.publish", 20) in by_name  # INFO: "published <file>: N rows ..."
    warned = [log for log in logs if log.name == "bureau_stats.pipeline" and log.level == 30]
    assert any(MED_APRIL in log.message for log in warned)  # the file's warning, at WARNING
    assert all(log.task_run_id is not None for log in logs if log.name == "warehouse.publish")
