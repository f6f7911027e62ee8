"""Fault tests: the generated year, the figures of a clean run, a warehouse on each backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import (
    current_rows,
    figures,
    generate_year,
    ingest_in_process,
    ledger,
    warehouse_url,
)

from warehouse.engine import open_warehouse


@dataclass(frozen=True)
class Reference:
    """What one clean run over the whole year gives."""

    figures: dict[str, Any]
    rows: dict[str, Any]
    statuses: dict[str, str]


@pytest.fixture(scope="session")
def year_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_year(tmp_path_factory.mktemp("year") / "landing")


@pytest.fixture(scope="session")
def reference(year_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    import os

    root = tmp_path_factory.mktemp("clean")
    url = f"sqlite:///{root / 'warehouse.db'}"
    os.environ.setdefault("BUREAU_STATS_PII_KEY", "test-pii-key")
    summary = ingest_in_process(url, year_landing, root / "var")
    assert summary.exit_code == 0, [
        o for o in summary.outcomes if o.status not in ("published", "superseded")
    ]
    engine = open_warehouse(url)
    try:
        return Reference(figures(engine), current_rows(engine), ledger(engine))
    finally:
        engine.dispose()


__all__ = ["warehouse_url"]  # the fixture, shared with the security tests
