"""Two runs started at once on the same landing area and warehouse: the figures of one run."""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_helpers import (
    assert_consistent,
    copy_landing,
    current_rows,
    figures,
    ledger,
    popen,
    run_env,
)

from warehouse.engine import open_warehouse


@pytest.mark.slow
def test_two_runs_at_once_give_the_figures_of_one_run(
    warehouse_url: str, year_landing: Path, reference, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    copy_landing(year_landing, landing)
    # Not even the schema exists yet: both runs migrate, register, lease and publish at once.
    runs = [
        popen(
            ["run", "--in-process", "--no-docs", "--json"],
            run_env(tmp_path / f"var{i}", warehouse_url, landing),
        )
        for i in (1, 2)
    ]
    outputs = [p.communicate(timeout=600) for p in runs]
    for p, (_out, err) in zip(runs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    engine = open_warehouse(warehouse_url)
    try:
        assert_consistent(engine)
        assert ledger(engine) == reference.statuses  # each delivery once, none pending
        assert current_rows(engine) == reference.rows  # no file published twice
        assert figures(engine) == reference.figures
    finally:
        engine.dispose()
