"""The annual-report flow: refresh one year's metrics and render its report."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flow_helpers import artifacts_of

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def test_annual_report_renders_the_year_up_to_a_cut_off(loaded_copy: Any) -> None:
    from flows.annual_report import annual_report
    from metrics.mart import read_mart
    from tasks.context import settings_for, warehouse

    state = annual_report(year=2024, as_of=date(2024, 6, 30), return_state=True)
    files = state.result()
    assert state.is_completed()
    assert {Path(f).suffix for f in files} >= {".md", ".html", ".docx"}
    assert all(Path(f).is_file() and Path(f).parent == loaded_copy.var / "reports" for f in files)
    mart = read_mart(
        warehouse(settings_for({"warehouse_url": loaded_copy.warehouse_url})),
        2024,
        date(2024, 6, 30),
    )
    assert mart  # the cut-off's figures are in the mart
    text = artifacts_of(str(state.state_details.flow_run_id))["annual-report"].data
    assert "figures up to 2024-06-30" in text and ".docx" in text
