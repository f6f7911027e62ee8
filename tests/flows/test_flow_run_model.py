"""The run model's two executors give the same outputs: ledger statuses and accounting, the
metrics mart, and the report's figures, on a generated year."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest


def _outputs(root: Path, result: Any) -> dict[str, Any]:
    from metrics.mart import read_mart
    from warehouse.engine import open_warehouse
    from warehouse.status import list_batches

    engine = open_warehouse(f"sqlite:///{root / 'warehouse.db'}")
    try:
        ledger = [
            {k: b[k] for k in ("file", "status", "delivery_order", "version", "reason",
                               "rows_read", "rows_accepted", "rows_rejected", "rows_duplicate")}
            for b in list_batches(engine)
        ]  # fmt: skip
        mart = read_mart(engine, 2024)
    finally:
        engine.dispose()
    report = (root / "var" / "reports" / "report_2024.md").read_text(encoding="utf-8")
    return {
        "outcomes": [(o.file, o.status, o.rows_read, o.rows_accepted) for o in result.outcomes],
        "refreshed": result.refreshed_years,
        "ledger": ledger,
        "mart": mart,
        "report": re.sub(r"生成时间:[^(]+", "", report),  # all but the time it was written
    }


def test_in_process_and_prefect_executors_give_the_same_outputs(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bureau_stats.settings import load_settings
    from demo_data import generate
    from flows.nightly import run_nightly
    from flows.run import ingest
    from tasks.context import dispose_engines

    landing = tmp_path / "landing"
    generate(year=2024, out_dir=landing, scale=0.02)
    monkeypatch.setenv("BUREAU_STATS_LANDING", str(landing))
    monkeypatch.setenv("BUREAU_STATS_TASK_RUNNER", "thread")
    outputs = {}
    for mode in ("in-process", "flow"):
        root = tmp_path / mode
        monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(root / "var"))
        monkeypatch.setenv("BUREAU_STATS_WAREHOUSE_URL", f"sqlite:///{root / 'warehouse.db'}")
        if mode == "flow":
            result = run_nightly(build_docs=False)
        else:
            result = ingest(load_settings(), refresh=True, build_docs=False)
        dispose_engines()
        outputs[mode] = _outputs(root, result)
        # both executors read the files in the reader process, one ahead of the audit
        assert result.read_seconds > 0, mode

    assert outputs["in-process"] == outputs["flow"]
    done = outputs["flow"]
    assert 2024 in done["refreshed"] and done["mart"]
    assert len(done["ledger"]) > 9 and {b["status"] for b in done["ledger"]} >= {"published"}
