"""Backfills (issues 4 and 9) run by Prefect over a copy of the loaded landing area."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from corpora import Corpus
from flow_helpers import artifacts_of

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

MARCH = (date(2024, 3, 1), date(2024, 3, 31))
REG_V1 = "registration/经营主体登记业务明细_20240301-20240331.csv"
REG_V2 = "registration/经营主体登记业务明细_20240301-20240331_v2.csv"
JUNE = (date(2024, 6, 1), date(2024, 6, 30))
REG_JUNE = "registration/经营主体登记业务明细_20240601-20240630.csv"  # has rejected rows


def _ledger(workdir: Any) -> dict[str, dict[str, Any]]:
    from tasks.context import settings_for, warehouse
    from warehouse.status import list_batches

    engine = warehouse(settings_for({"warehouse_url": workdir.warehouse_url}))
    return {b["file"]: b for b in list_batches(engine)}


def _mart_2024(workdir: Any) -> dict[str, Any]:
    from metrics.mart import read_mart
    from tasks.context import settings_for, warehouse

    return read_mart(warehouse(settings_for({"warehouse_url": workdir.warehouse_url})), 2024)


def _current_registrations(workdir: Any, period: tuple[date, date] = MARCH) -> int:
    from sqlalchemy import func, select

    from tasks.context import settings_for, warehouse
    from warehouse.schema import source_table

    t = source_table("registration")
    query = select(func.count()).where(
        t.c.superseded_at.is_(None), t.c.partition_date.between(*period)
    )
    with warehouse(settings_for({"warehouse_url": workdir.warehouse_url})).connect() as conn:
        return int(conn.execute(query).scalar_one())


def _add_v2(workdir: Any) -> None:
    """A corrected re-delivery of March: the same export with its last rows withdrawn."""
    lines = (workdir.landing / REG_V1).read_bytes().splitlines(keepends=True)
    (workdir.landing / REG_V2).write_bytes(b"".join(lines[:200]))


def _done(result: Any) -> list[tuple[str, str]]:
    return [(o.file, o.action) for o in result.outcomes]


def _planned(plan: Any) -> list[tuple[str, str]]:
    return [(f.file, f.action) for f in plan.files]


def test_backfill_of_a_month_without_force_skips_unchanged_files(loaded_copy: Any) -> None:
    from flows.backfill import backfill

    before = _ledger(loaded_copy)
    state = backfill(start=MARCH[0], end=MARCH[1], return_state=True)
    result = state.result()
    assert state.is_completed()
    # eight monthly files + the half-year ip_pledge file + the manual source's yearly workbook
    assert len(result.outcomes) == 10
    assert {o.status for o in result.outcomes} == {"skipped"}
    assert result.refreshed_years == []
    assert _ledger(loaded_copy) == before
    arts = artifacts_of(str(state.state_details.flow_run_id))
    assert float(arts["backfill-progress"].data) == 100.0
    assert "skip" in arts["backfill-plan"].data


def test_backfill_with_force_revalidates_in_original_delivery_order(loaded_copy: Any) -> None:
    from flows.backfill import backfill

    before, mart = _ledger(loaded_copy), _mart_2024(loaded_copy)
    state = backfill(start=MARCH[0], end=MARCH[1], force=True, return_state=True)
    result = state.result()
    assert state.is_completed(), state.message
    assert {o.action for o in result.outcomes} == {"republish"}
    assert {o.status for o in result.outcomes} <= {"published", "superseded"}
    after = _ledger(loaded_copy)
    for o in result.outcomes:  # same delivery, same order, same accounting
        b, a = before[o.file], after[o.file]
        assert o.delivery_order == b["delivery_order"] == a["delivery_order"]
        assert (a["status"], a["rows_accepted"], a["rows_rejected"]) == (
            b["status"],
            b["rows_accepted"],
            b["rows_rejected"],
        )
    assert result.refreshed_years == [2024]
    assert _mart_2024(loaded_copy) == mart  # re-validating unchanged files changes no figure
    arts = artifacts_of(str(state.state_details.flow_run_id))
    assert float(arts["backfill-progress"].data) == 100.0
    assert "| published | 10 |" in arts["backfill-summary"].data  # with the yearly workbook


def test_dry_run_lists_exactly_what_the_run_then_does(loaded_copy: Any) -> None:
    from bureau_stats.cli.operate import dry_run_plan
    from flows.backfill import backfill

    _add_v2(loaded_copy)
    v1_rows = _current_registrations(loaded_copy)

    # Without force: the correction is the only new content; everything else is unchanged.
    plan = dry_run_plan(*MARCH, None, False)
    flow_plan = backfill(start=MARCH[0], end=MARCH[1], dry_run=True)
    assert _planned(flow_plan) == _planned(plan)
    assert [f.file for f in plan.files if f.action == "publish"] == [REG_V2]
    assert plan.files[-1].file == REG_V2 and plan.files[-1].delivery_order is None
    assert plan.years == (2024,)
    ledger_before = _ledger(loaded_copy)
    assert REG_V2 not in ledger_before  # the dry runs wrote nothing

    result = backfill(start=MARCH[0], end=MARCH[1])
    assert _done(result) == _planned(plan)
    assert result.refreshed_years == list(plan.years)
    ledger = _ledger(loaded_copy)
    v2 = ledger[REG_V2]
    assert v2["delivery_order"] > max(b["delivery_order"] for b in ledger_before.values())
    assert ledger[REG_V1]["status"] == "superseded" and v2["status"] == "published"
    assert _current_registrations(loaded_copy) == v2["rows_accepted"] < v1_rows

    # With force: every file of the range re-validated, in delivery order, v2 last.
    plan = dry_run_plan(*MARCH, None, True)
    assert [f.file for f in plan.files][-1] == REG_V2
    assert {f.action for f in plan.files} == {"republish"}
    orders = [f.delivery_order for f in plan.files]
    assert orders == sorted(orders)
    result = backfill(start=MARCH[0], end=MARCH[1], force=True)
    assert _done(result) == _planned(plan)
    # the older file was re-processed but never overrides the newer correction (rule 2)
    ledger = _ledger(loaded_copy)
    assert ledger[REG_V1]["status"] == "superseded" and ledger[REG_V2]["status"] == "published"
    assert _current_registrations(loaded_copy) == v2["rows_accepted"]


def test_second_backfill_is_refused_with_the_holders_id_and_wait_queues(
    loaded_copy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bureau_stats.pipeline as pipeline
    from flows.backfill import backfill

    started, release = threading.Event(), threading.Event()
    calls: list[str] = []
    real = pipeline.publish_delivery

    def held_publish(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["holder"])
        if len(calls) == 1:  # the first backfill stops inside its first file
            started.set()
            assert release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "publish_delivery", held_publish)
    params = dict(start=MARCH[0], end=MARCH[1], sources=["registration"], force=True)
    states: dict[str, Any] = {}
    first = threading.Thread(
        target=lambda: states.update(first=backfill(**params, return_state=True))
    )
    first.start()
    try:
        assert started.wait(120)
        refused = backfill(**params, return_state=True)
        queued = threading.Thread(
            target=lambda: states.update(queued=backfill(**params, wait=True, return_state=True))
        )
        queued.start()
    finally:
        release.set()
        first.join(300)
    queued.join(300)

    first_id = str(states["first"].state_details.flow_run_id)
    assert states["first"].is_completed()
    assert refused.is_failed()
    error = refused.result(raise_on_failure=False)
    assert type(error).__name__ == "SourcesBusy"
    assert first_id in str(error) and "since" in str(error) and "registration" in str(error)
    # --wait: the third one queued behind the first and then ran, after all of the first's files
    assert states["queued"].is_completed()
    holders = list(dict.fromkeys(calls))
    assert len(holders) == 2 and holders[0].startswith(first_id)
    assert calls == [holders[0]] * calls.count(holders[0]) + [holders[1]] * calls.count(holders[1])


def test_deployment_parameters_are_typed() -> None:
    from flows.backfill import backfill

    schema = backfill.parameters.model_dump()
    props = schema["properties"]
    assert props["start"]["format"] == "date" and props["end"]["format"] == "date"
    assert set(schema["required"]) == {"start", "end"}
    assert props["dry_run"]["default"] is False and props["force"]["default"] is False


def test_progress_bar_on_a_terminal_and_artifact_to_100(
    prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect import flow

    from bureau_stats.outcome import FileOutcome
    from tasks.progress import RunProgress

    @flow
    def three_files() -> RunProgress:
        with RunProgress("backfill", 3, terminal=True) as p:
            assert p._bar is not None  # a Rich bar on the terminal
            p.advance(FileOutcome(file="a", source="cases", status="published", rows_read=10))
            p.advance(FileOutcome(file="b", source="cases", status="quarantined", rows_read=5))
            p.advance(FileOutcome(file="c", source="cases", status="failed"))
        return p

    p = three_files()
    assert p._bar is None and p.rows == 15
    assert p.percentages == [0.0, 33.3, 66.7, 100.0]
    err = capsys.readouterr().err
    assert "3/3" in err and "rows/s" in err


def test_forced_revalidation_that_now_quarantines_withdraws_the_rows(
    loaded_copy: Any, flow_corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a rules change a published file can fail: its rows leave the current truth, and
    re-validating it under the old rules brings them back (rule 1: nothing half-visible)."""
    from flows.backfill import backfill

    planned = flow_corpus.accounting[REG_JUNE]
    assert 0 < planned["rows_rejected"] < 0.05 * planned["rows_read"]
    assert _current_registrations(loaded_copy, JUNE) == planned["rows_accepted"]
    # A stricter reject threshold: June registration (a few rejected rows) now fails.
    monkeypatch.setenv("BUREAU_STATS_REJECT_THRESHOLD", "0.001")
    state = backfill(
        start=JUNE[0], end=JUNE[1], sources=["registration"], force=True, return_state=True
    )
    assert not state.is_completed()
    assert _ledger(loaded_copy)[REG_JUNE]["status"] == "quarantined"
    assert _ledger(loaded_copy)[REG_JUNE]["reason"] == "reject_share"
    assert _current_registrations(loaded_copy, JUNE) == 0
    monkeypatch.setenv("BUREAU_STATS_REJECT_THRESHOLD", "0.05")
    state = backfill(
        start=JUNE[0], end=JUNE[1], sources=["registration"], force=True, return_state=True
    )
    assert state.is_completed(), state.message
    assert _ledger(loaded_copy)[REG_JUNE]["status"] == "published"
    assert _current_registrations(loaded_copy, JUNE) == planned["rows_accepted"]
