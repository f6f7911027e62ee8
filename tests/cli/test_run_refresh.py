"""`bureau-stats run` without a server refreshes what the nightly flow refreshes: the metrics
mart and the year's report under var/reports, whose figures are those `metrics --json` gives."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bureau_stats.cli.ingest  # noqa: F401  (registers the commands)
import bureau_stats.cli.metrics  # noqa: F401
from bureau_stats.cli.app import app

FIGURE = re.compile(r"^\| [^|`]+ `(?P<code>[^`]+)` \| (?P<text>[^|]+) \|", re.MULTILINE)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def report_figures(markdown: str) -> dict[str, Decimal | None]:
    """Appendix 1 of the Markdown report: every figure by code."""
    out: dict[str, Decimal | None] = {}
    for m in FIGURE.finditer(markdown):
        text = m["text"].strip()
        out[m["code"]] = None if text == "无数据" else Decimal(text)
    return out


def test_run_in_process_writes_the_years_report_with_the_metrics_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demo_data import generate
    from tasks.context import dispose_engines

    landing = tmp_path / "landing"
    generate(year=2024, out_dir=landing, scale=0.02)
    monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"

    code, out = invoke("run", "--in-process", "--no-docs", "--landing", str(landing),
                       "--warehouse", url, "--json")  # fmt: skip
    dispose_engines()
    assert code == 0, out
    run = json.loads(out)
    report = tmp_path / "var" / "reports" / "report_2024.md"
    assert report.is_file()
    assert str(report) in run["reports"] and 2024 in run["refreshed_years"]

    code, out = invoke("metrics", "--year", "2024", "--json", "--warehouse", url)
    assert code == 0, out
    expected = {
        c: None if v is None else Decimal(str(v)) for c, v in json.loads(out)["metrics"].items()
    }
    figures = report_figures(report.read_text(encoding="utf-8"))
    assert figures == expected
    assert any(v for v in figures.values())  # a year with data, not an empty report
