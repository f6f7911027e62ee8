"""`run` reports progress per file (the CLI draws it as a Rich bar on a terminal)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def test_ingest_reports_each_file_done_out_of_the_files_to_do(
    tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bureau_stats.settings import load_settings
    from flows.run import ingest

    shutil.copytree(demo_landing / "ip_cases", tmp_path / "landing" / "ip_cases")
    monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(tmp_path / "var"))
    settings = load_settings(
        landing=str(tmp_path / "landing"), warehouse_url=f"sqlite:///{tmp_path / 'w.db'}"
    )
    calls: list[tuple[int, int, str | None]] = []
    ingest(settings, on_progress=lambda d, t, o: calls.append((d, t, o.file if o else None)))
    assert [(d, t) for d, t, _ in calls] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert calls[1][2] == "ip_cases/知识产权案件_20240101-20240331.csv"
    calls.clear()
    ingest(settings, on_progress=lambda d, t, o: calls.append((d, t, None)))
    assert calls == [(0, 0, None)]  # nothing new: nothing to wait for
