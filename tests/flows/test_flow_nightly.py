"""The nightly flow over a landing area of real exports (the demo year's first deliveries: see
`flow_corpus`), run by Prefect (one test harness for the session)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from corpora import Corpus
from flow_helpers import artifacts_of

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

FIRST_PLEDGE = "ip_pledge/知识产权质押登记_20240101-20240630.xlsx"


def test_nightly_publishes_every_file_with_its_accounting(loaded: Any, flow_corpus: Corpus) -> None:
    from tasks.context import settings_for, warehouse
    from warehouse.status import list_batches

    want = flow_corpus.accounting
    result = loaded.result
    assert loaded.state.is_completed(), loaded.state.message
    assert result.ok and result.files_seen == len(want) > 100
    got = {o.file: o for o in result.outcomes}
    assert set(got) == set(want)
    for name, w in want.items():
        o = got[name]
        assert o.status in ("published", "superseded"), (name, o.status, o.reason)
        assert (o.rows_read, o.rows_accepted, o.rows_rejected, o.rows_duplicate) == (
            w["rows_read"],
            w["rows_accepted"],
            w["rows_rejected"],
            w["rows_duplicate"],
        ), name
    # the ledger says the same, and every delivery has its own order
    settings = settings_for({"warehouse_url": loaded.workdir.warehouse_url})
    ledger = {b["file"]: b for b in list_batches(warehouse(settings))}
    assert {f: ledger[f]["rows_read"] for f in want} == {f: w["rows_read"] for f, w in want.items()}
    assert len({b["delivery_order"] for b in ledger.values()}) == len(want)
    # one source's files were delivered in period order (rule 2)
    for source in {o.source for o in result.outcomes}:
        mine = sorted(
            (b for b in ledger.values() if b["source"] == source), key=lambda b: b["delivery_order"]
        )
        assert [b["period"] for b in mine] == sorted(b["period"] for b in mine)
    assert 2024 in result.refreshed_years
    assert any(r.endswith("report_2024.md") for r in result.reports)


def test_artifacts_tell_the_operator_what_happened(loaded: Any, flow_corpus: Corpus) -> None:
    planned = flow_corpus.accounting.values()
    files = len(planned)
    arts = artifacts_of(loaded.flow_run_id)
    summary = arts["nightly-summary"].data
    assert f"| seen | {files} |" in summary and f"| published | {files} |" in summary
    assert "| quarantined | 0 |" in summary
    table = arts["nightly-accounting"].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert len(rows) == files
    for r in rows:
        assert r["rows_read"] == r["rows_accepted"] + r["rows_rejected"] + r["rows_duplicate"]
    assert sum(r["rows_rejected"] for r in rows) == sum(p["rows_rejected"] for p in planned) > 0
    assert sum(r["rows_duplicate"] for r in rows) == sum(p["rows_duplicate"] for p in planned) > 0
    rejects = arts["nightly-rejects"].data
    assert rejects.count("| line | reason |") == sum(1 for r in rows if r["rows_rejected"])
    assert "bureau-stats rejects" in rejects
    link = arts["data-docs"].data  # Markdown: [text](url)
    url = link[link.index("](") + 2 : -1]
    assert url.endswith("/data_docs/index.html") and Path(url.removeprefix("file://")).exists()
    progress = arts["nightly-progress"].data
    assert float(progress) == 100.0


def test_no_personal_data_in_artifacts_results_or_logs(
    loaded: Any, flow_corpus: Corpus, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

    ids = flow_corpus.person_ids
    assert ids
    texts = [str(a.data) + str(a.description) for a in artifacts_of(loaded.flow_run_id).values()]
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[loaded.flow_run_id]))
        )
    texts += [log.message for log in logs]
    storage = Path(PREFECT_LOCAL_STORAGE_PATH.value())
    texts += [p.read_bytes().decode("latin-1") for p in storage.rglob("*") if p.is_file()]
    assert len(texts) > 100
    blob = "\n".join(texts)
    assert not [i for i in ids if i in blob]


def test_second_nightly_publishes_nothing(loaded_copy: Any, flow_corpus: Corpus) -> None:
    from flows.nightly import nightly

    state = nightly(return_state=True)
    result = state.result()
    assert state.is_completed()
    files = len(flow_corpus.accounting)
    assert result.files_seen == files
    assert [o.status for o in result.outcomes] == ["skipped"] * files
    assert result.refreshed_years == [] and result.reports == []


def test_a_quarantined_file_fails_the_run_with_its_reason(
    loaded_copy: Any, flow_corpus: Corpus
) -> None:
    from flows.nightly import nightly

    empty = loaded_copy.landing / "registration" / "经营主体登记业务明细_20250101-20250131.csv"
    header = (loaded_copy.landing / "registration").glob("*_20240101-20240131.csv")
    first = next(iter(header)).read_bytes().splitlines()[0]
    empty.write_bytes(first + b"\n")

    state = nightly(return_state=True)
    assert state.is_failed()
    assert "registration/经营主体登记业务明细_20250101-20250131.csv: empty" in state.message
    result = state.result(raise_on_failure=False).result
    assert [o.file for o in result.quarantined] == [
        "registration/经营主体登记业务明细_20250101-20250131.csv"
    ]
    files = len(flow_corpus.accounting)
    assert result.count("skipped") == files and result.exit_code == 1
    arts = artifacts_of(str(state.state_details.flow_run_id))
    assert "## Quarantined" in arts["nightly-summary"].data
    assert "empty" in arts["nightly-summary"].data


def test_a_retried_run_does_not_redo_the_files_it_finished(
    flow_landing: Path,
    prefect_harness: None,
    tmp_path: Path,
    use_workdir: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flow_helpers import new_workdir

    import bureau_stats.pipeline as pipeline
    from flows.nightly import nightly

    use_workdir(new_workdir(flow_landing, tmp_path / "w", ("ip_cases", "ip_pledge")))
    calls: list[str] = []
    real = pipeline.publish_delivery

    def crashes_once(engine: Any, batch: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(batch.file.relative)
        if batch.file.relative == FIRST_PLEDGE and calls.count(FIRST_PLEDGE) == 1:
            raise RuntimeError("worker lost")  # not transient: the task fails, so does the run
        return real(engine, batch, *args, **kwargs)

    monkeypatch.setattr(pipeline, "publish_delivery", crashes_once)
    state = nightly.with_options(retries=1, retry_delay_seconds=0)(return_state=True)
    result = state.result()
    assert state.is_completed(), state.message
    # the retry ran the first attempt's plan: finished files came from their persisted results
    assert (
        sorted(set(calls)) == sorted(o.file for o in result.outcomes) and len(result.outcomes) == 6
    )
    assert sorted(calls) == sorted([o.file for o in result.outcomes] + [FIRST_PLEDGE])
    assert {o.status for o in result.outcomes} == {"published"}


def test_an_unreadable_file_fails_alone(
    loaded_copy: Any, flow_corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bureau_stats.pipeline as pipeline
    from flows.nightly import nightly

    locked = "cases/行政处罚案件_20250101-20250131.xlsx"
    (loaded_copy.landing / locked).write_bytes(b"whatever")
    real = pipeline.fingerprint

    def fingerprint(file: Any) -> Any:
        if file.relative == locked:
            raise PermissionError(13, "Permission denied")
        return real(file)

    monkeypatch.setattr(pipeline, "fingerprint", fingerprint)
    state = nightly(return_state=True)
    result = state.result(raise_on_failure=False).result
    assert (
        state.is_failed()
        and f"failed {locked}: error (read error (PermissionError)" in state.message
    )
    files = len(flow_corpus.accounting)
    assert result.files_seen == files + 1 and result.count("skipped") == files
    assert [(o.file, o.status) for o in result.failed] == [(locked, "failed")]
