"""Acceptance: the metrics of shared/samples/landing after one pipeline run equal
shared/samples/expected.json (the full year and both as-of cut-offs), through the engine,
the `metrics --json` command and the rendered report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from bureau_stats.cli import load_commands
from bureau_stats.cli.app import app
from bureau_stats.settings import load_settings
from metrics.engine import compute_metrics, contributions
from report.render import render_report

CUT_OFFS = {
    "full_year": None,
    "as_of_2024-06-30": date(2024, 6, 30),
    "as_of_2024-10-31": date(2024, 10, 31),
}


@pytest.fixture(scope="module")
def expected(samples_dir: Path) -> dict[str, dict[str, int | float]]:
    doc = json.loads((samples_dir / "expected.json").read_text(encoding="utf-8"))
    return {key: doc[key] for key in CUT_OFFS}


@pytest.fixture(scope="module")
def loaded(
    landing_samples: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Engine]]:
    """The samples ingested once by the real pipeline into a fresh SQLite warehouse."""
    from flows.run import ingest
    from warehouse.engine import open_warehouse

    var = tmp_path_factory.mktemp("acceptance")
    url = f"sqlite:///{var / 'warehouse.db'}"
    settings = load_settings(
        var_dir=var, landing=str(landing_samples), warehouse_url=url, pii_key="acceptance-test-key"
    )
    summary = ingest(settings)
    assert {o.status for o in summary.outcomes} <= {"published", "superseded", "skipped"}
    engine = open_warehouse(url)
    yield url, engine
    engine.dispose()


def as_decimal(value: int | float) -> int | Decimal:
    return Decimal(str(value)) if isinstance(value, float) else value


@pytest.mark.parametrize("cut_off", list(CUT_OFFS))
def test_engine_reproduces_expected(
    loaded: tuple[str, Engine], expected: dict[str, dict[str, int | float]], cut_off: str
) -> None:
    _, engine = loaded
    got = compute_metrics(engine, 2024, CUT_OFFS[cut_off])
    want = {code: as_decimal(v) for code, v in expected[cut_off].items()}
    assert got == want


@pytest.mark.parametrize("cut_off", list(CUT_OFFS))
def test_cli_json_reproduces_expected(
    loaded: tuple[str, Engine], expected: dict[str, dict[str, int | float]], cut_off: str
) -> None:
    url, _ = loaded
    load_commands()
    args = ["metrics", "--year", "2024", "--json", "--warehouse", url]
    if CUT_OFFS[cut_off] is not None:
        args += ["--as-of", str(CUT_OFFS[cut_off])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["as_of"] == str(CUT_OFFS[cut_off] or date(2024, 12, 31))
    assert doc["metrics"] == expected[cut_off]


def test_lineage_rows_add_up_to_counts(loaded: tuple[str, Engine]) -> None:
    _, engine = loaded
    parts = contributions(engine, "cases.filed", 2024, date(2024, 6, 30))
    assert sum(p.rows for p in parts) == 351
    assert all(p.name.startswith("行政处罚案件_2024") for p in parts)
    assert len(parts) == 6


def test_report_prints_the_expected_figures(loaded: tuple[str, Engine], tmp_path: Path) -> None:
    _, engine = loaded
    written = render_report(engine, 2024, None, tmp_path, ["md"], load_settings())
    text = next(p for p in written if p.suffix == ".md").read_text(encoding="utf-8")
    assert (
        "2024年共办理设立登记业务1436笔,其中网上业务1391笔;办理变更业务929笔,其中网上业务432笔。"
        in text
    )
    assert "截至2024年12月,蓬江区专利授权量956件;有效发明专利量1788件,同比增长8.50%" in text
    assert "质押登记金额26.37亿元" in text
