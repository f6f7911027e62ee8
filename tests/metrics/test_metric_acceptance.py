"""Acceptance: the metrics of a landing area after one pipeline run equal what is expected of it
at every cut-off it gives, through the engine, the `metrics --json` command and the rendered
report. The demo year (the generator's plan gives the figures) always; the customer's samples
(shared/samples/expected.json: the full year and both as-of cut-offs) where present."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from corpora import YEAR, Corpus, Figure, as_figure
from sqlalchemy import Engine
from typer.testing import CliRunner

from bureau_stats.cli import load_commands
from bureau_stats.cli.app import app
from bureau_stats.settings import load_settings
from metrics.catalog import load_catalog
from metrics.engine import compute_metrics
from metrics.lineage import contributions
from report.render import render_report


@pytest.fixture(scope="module")
def loaded(
    corpus: Corpus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Engine]]:
    """The landing area ingested once by the real pipeline into a fresh SQLite warehouse."""
    from flows.run import ingest
    from warehouse.engine import open_warehouse

    var = tmp_path_factory.mktemp(f"acceptance-{corpus.name}")
    url = f"sqlite:///{var / 'warehouse.db'}"
    settings = load_settings(
        var_dir=var, landing=str(corpus.landing), warehouse_url=url, pii_key="acceptance-test-key"
    )
    summary = ingest(settings)
    assert {o.status for o in summary.outcomes} <= {"published", "superseded", "skipped"}
    engine = open_warehouse(url)
    yield url, engine
    engine.dispose()


def _expected_part(corpus: Corpus, got: dict[str, Any], want: dict[str, Figure]) -> dict[str, Any]:
    """All of `got` when the corpus expects every metric, else the metrics it gives. The
    customer's samples hold no workbook of the `manual` source: its figures are null there."""
    if corpus.complete:
        manual = {m.code for m in load_catalog() if m.source == "manual"}
        assert all(got.get(code) is None for code in manual)
        return {code: value for code, value in got.items() if code not in manual}
    return {code: got.get(code) for code in want}


def test_engine_reproduces_expected(loaded: tuple[str, Engine], corpus: Corpus) -> None:
    _, engine = loaded
    for cut_off, want in corpus.expected.items():
        got = compute_metrics(engine, YEAR, cut_off)
        assert _expected_part(corpus, got, want) == want, cut_off


def test_cli_json_reproduces_expected(loaded: tuple[str, Engine], corpus: Corpus) -> None:
    url, _ = loaded
    load_commands()
    for cut_off, want in corpus.expected.items():
        args = ["metrics", "--year", str(YEAR), "--json", "--warehouse", url]
        if cut_off is not None:
            args += ["--as-of", str(cut_off)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        doc = json.loads(result.output)
        assert doc["as_of"] == str(cut_off or date(YEAR, 12, 31))
        got = {code: as_figure(v) for code, v in doc["metrics"].items()}
        assert _expected_part(corpus, got, want) == want, cut_off


def test_lineage_rows_add_up_to_counts(loaded: tuple[str, Engine], corpus: Corpus) -> None:
    _, engine = loaded
    cut_off = min(
        (c for c, want in corpus.expected.items() if "cases.filed" in want),
        key=lambda c: c or date(YEAR, 12, 31),
    )
    until = cut_off or date(YEAR, 12, 31)
    parts = contributions(engine, "cases.filed", YEAR, until)
    assert sum(p.rows for p in parts) == corpus.expected[cut_off]["cases.filed"]
    assert all(p.name.startswith(f"行政处罚案件_{YEAR}") for p in parts)
    current = corpus.current_files("cases", until)
    assert sorted(p.name for p in parts) == sorted(Path(rel).name for rel in current)


def _figures_at(corpus: Corpus, code: str) -> tuple[date | None, dict[str, Figure]]:
    """The latest cut-off that gives `code`, and its figures."""
    cut_off = max(
        (c for c, want in corpus.expected.items() if code in want),
        key=lambda c: c or date(YEAR, 12, 31),
    )
    return cut_off, corpus.expected[cut_off]


def _report_text(engine: Engine, cut_off: date | None, out: Path) -> str:
    written = render_report(engine, YEAR, cut_off, out, ["md"], load_settings())
    return next(p for p in written if p.suffix == ".md").read_text(encoding="utf-8")


def test_report_prints_the_expected_figures(
    loaded: tuple[str, Engine], corpus: Corpus, tmp_path: Path
) -> None:
    _, engine = loaded
    cut_off, f = _figures_at(corpus, "reg.establish")
    text = _report_text(engine, cut_off, tmp_path / "reg")
    assert (
        f"{YEAR}年共办理设立登记业务{f['reg.establish']}笔,其中网上业务{f['reg.establish.online']}笔;"
        f"办理变更业务{f['reg.change']}笔,其中网上业务{f['reg.change.online']}笔。"
    ) in text
    assert f"质押登记金额{f['pledge.amount_yi']:.2f}亿元" in text
    cut_off, f = _figures_at(corpus, "ip.patents_granted")
    month = (cut_off or date(YEAR, 12, 31)).month
    text = _report_text(engine, cut_off, tmp_path / "ip")
    assert (
        f"截至{YEAR}年{month}月,蓬江区专利授权量{f['ip.patents_granted']}件;"
        f"有效发明专利量{f['ip.valid_invention']}件,同比增长{f['ip.valid_invention.yoy']:.2f}%"
    ) in text
