"""`bureau-stats check-draft` end to end: the report the project renders for the demo year (its
Markdown and its DOCX) states every figure as a match; three figures altered by hand are exactly
three mismatches; a draft written in other words (python-docx) is read the same way."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from corpora import YEAR, Corpus
from docx import Document
from draft_edits import alter_docx, alter_text
from sqlalchemy import Engine
from typer.testing import CliRunner

from bureau_stats.cli import load_commands
from bureau_stats.cli.app import app
from bureau_stats.settings import load_settings
from metrics.engine import compute_metrics
from report.render import render_report

TEMPLATES = Path(__file__).resolve().parents[2] / "report" / "templates"


@pytest.fixture(scope="module")
def loaded(
    demo_corpus: Corpus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Engine, dict[str, Path]]]:
    """The demo year ingested by the real pipeline, and its report rendered as md and docx."""
    from flows.run import ingest
    from warehouse.engine import open_warehouse

    var = tmp_path_factory.mktemp("check-draft")
    url = f"sqlite:///{var / 'warehouse.db'}"
    settings = load_settings(
        var_dir=var, landing=str(demo_corpus.landing), warehouse_url=url, pii_key="draft-key"
    )
    ingest(settings)
    engine = open_warehouse(url)
    written = render_report(engine, YEAR, None, var / "report", ["md", "docx"], settings)
    yield url, engine, {p.suffix: p for p in written if p.suffix in (".md", ".docx")}
    engine.dispose()


def check_draft(path: Path, url: str, *extra: str) -> tuple[int, Any]:
    load_commands()
    args = ["check-draft", str(path), "--year", str(YEAR), "--warehouse", url, *extra]
    result = CliRunner().invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else None


def passage_codes() -> set[str]:
    """The figures the report's passages state (read from the templates, not the matcher)."""
    text = "".join(p.read_text(encoding="utf-8") for p in TEMPLATES.glob("passages_*.j2"))
    return set(re.findall(r"vu\('([^']+)'\)", text))


def mismatched(doc: dict[str, Any]) -> set[str]:
    return {s["code"] for s in doc["statements"] if s["status"] == "mismatch"}


@pytest.mark.parametrize("suffix", [".md", ".docx"])
def test_the_rendered_report_states_every_figure_as_a_match(
    loaded: tuple[str, Engine, dict[str, Path]], suffix: str
) -> None:
    url, engine, report = loaded
    code, doc = check_draft(report[suffix], url)
    wrong = [(s["code"], s["written"], s["value"], s["text"]) for s in doc["statements"]]
    assert code == 0, [
        w for w, s in zip(wrong, doc["statements"], strict=True) if s["status"] != "match"
    ]
    assert {s["status"] for s in doc["statements"]} == {"match"}
    prose = {s["code"] for s in doc["statements"] if not s["text"].startswith("|")}
    values = compute_metrics(engine, YEAR)
    stated = {c for c in passage_codes() if values[c] is not None}
    assert stated <= prose, stated - prose
    # whatever the report states nowhere is a figure without data ("无数据")
    assert all(values[c] is None for c in doc["not_stated"]), doc["not_stated"]
    assert doc["unresolved"] == []


def test_three_figures_altered_in_markdown_are_exactly_three_mismatches(
    loaded: tuple[str, Engine, dict[str, Path]], tmp_path: Path
) -> None:
    url, _, report = loaded
    text, altered = alter_text(report[".md"].read_text(encoding="utf-8"), 3)
    assert len(set(altered)) == 3
    draft = tmp_path / "draft.md"
    draft.write_text(text, encoding="utf-8")
    code, doc = check_draft(draft, url)
    assert code == 1
    assert mismatched(doc) == set(altered)
    assert sum(s["status"] == "mismatch" for s in doc["statements"]) == 3


def test_three_figures_altered_in_docx_are_exactly_three_mismatches(
    loaded: tuple[str, Engine, dict[str, Path]], tmp_path: Path
) -> None:
    url, _, report = loaded
    draft = tmp_path / "draft.docx"
    altered = alter_docx(report[".docx"], draft, 3)
    code, doc = check_draft(draft, url)
    assert code == 1
    assert mismatched(doc) == set(altered) and len(altered) == 3
    # and the table output names them too
    load_commands()
    args = ["check-draft", str(draft), "--year", str(YEAR), "--warehouse", url]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert all(code in result.stdout for code in altered)
    assert "3 mismatch" in result.stdout


def chinese(n: int) -> str:
    """A small count in Chinese numerals (0 < n < 100), as a draft writes 五期 or 二十三宗."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    text = ("" if tens == 0 else ("" if tens == 1 else digits[tens]) + "十") + (
        digits[ones] if ones else ""
    )
    return text or "零"


def test_a_draft_in_other_words_as_docx(
    loaded: tuple[str, Engine, dict[str, Path]], tmp_path: Path
) -> None:
    """Chinese numerals, a cut-off in the sentence, qualifiers, a table: all found, all right."""
    url, engine, _ = loaded
    year = compute_metrics(engine, YEAR)
    october = compute_metrics(engine, YEAR, date(YEAR, 10, 31))
    assert october["reg.establish"] != year["reg.establish"]  # the cut-off makes a difference
    tobacco = year["campaign.tobacco.rounds"]
    assert isinstance(tobacco, int) and 0 < tobacco < 100
    penalty = year["cases.penalty_wan"]
    filed = year["cases.filed"]
    assert isinstance(filed, int) and filed >= 10
    document = Document()
    document.add_heading("2024年度法治政府建设工作报告", 1)
    document.add_paragraph(
        f"截至10月,全区办理设立登记业务{october['reg.establish']}笔,"
        f"其中网上业务{october['reg.establish.online']}笔。"
    )
    document.add_paragraph(
        f"全年开展无证经营烟草专项整治{chinese(tobacco)}期,"
        f"出动执法人员{year['campaign.tobacco.officers']}人次。"
        f"罚没金额约{penalty}万元,查处各类经济违法案件超{filed // 10 * 10}宗。"
    )
    table = document.add_table(rows=2, cols=3)
    for cell, text in zip(table.rows[0].cells, ["指标", "数量", "单位"], strict=True):
        cell.text = text
    for cell, text in zip(
        table.rows[1].cells,
        ["核准特种设备使用登记", str(year["seq.approved_units"]), "台(套)"],
        strict=True,
    ):
        cell.text = text
    draft = tmp_path / "hand.docx"
    document.save(str(draft))
    code, doc = check_draft(draft, url)
    assert code == 0, [s for s in doc["statements"] if s["status"] == "mismatch"]
    got = {s["code"]: s for s in doc["statements"]}
    assert got["reg.establish"]["as_of"] == "2024-10-31"
    assert got["reg.establish"]["value"] == october["reg.establish"]
    assert got["reg.establish.online"]["status"] == "match"
    assert got["campaign.tobacco.rounds"]["draft"] == tobacco
    assert got["campaign.tobacco.rounds"]["status"] == "match"
    assert got["campaign.tobacco.officers"]["status"] == "match"
    assert got["cases.filed"]["status"] == "approximate"
    assert got["seq.approved_units"]["status"] == "match"
    assert got["seq.approved_units"]["as_of"] == "2024-12-31"
    assert set(doc["statements"][0]) >= {"code", "draft", "value", "as_of", "status", "text"}
    assert "reg.change" in doc["not_stated"]


def test_unreadable_drafts_exit_2(
    loaded: tuple[str, Engine, dict[str, Path]], tmp_path: Path
) -> None:
    url, _, _ = loaded
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"not a zip")
    pdf = tmp_path / "draft.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    latin = tmp_path / "draft.txt"
    latin.write_bytes("设立登记业务".encode("gb18030"))
    for path in (broken, pdf, latin, tmp_path / "missing.md"):
        load_commands()
        result = CliRunner().invoke(
            app, ["check-draft", str(path), "--year", "2024", "--warehouse", url]
        )
        assert result.exit_code == 2, (path, result.output)


def test_a_draft_rendered_from_the_rule_of_law_skeleton(
    loaded: tuple[str, Engine, dict[str, Path]], tmp_path: Path
) -> None:
    """The issue's done-when: the shipped skeleton rendered for the year, checked as a draft
    people wrote: every figure it states is a match; three numbers altered by hand are exactly
    three mismatches."""
    from report.docx_template import render_template, shipped_template, template_context

    url, engine, _ = loaded
    rendered = tmp_path / "rule_of_law.docx"
    rendered.write_bytes(
        render_template(
            shipped_template("rule_of_law").read_bytes(), template_context(engine, YEAR)
        )
    )
    code, doc = check_draft(rendered, url)
    assert code == 0, [s for s in doc["statements"] if s["status"] != "match"]
    stated = {s["code"] for s in doc["statements"]}
    assert {s["status"] for s in doc["statements"]} == {"match"}
    # export figures and the offices' figures alike, some at their own cut-offs
    assert {"reg.establish", "legal.opinions", "litigation.cases", "cases.filed"} <= stated
    assert {s["as_of"] for s in doc["statements"]} > {f"{YEAR}-12-31"}
    altered_path = tmp_path / "altered.docx"
    altered = alter_docx(rendered, altered_path, 3)
    code, doc = check_draft(altered_path, url)
    assert code == 1
    assert mismatched(doc) == set(altered) and len(altered) == 3
    assert sum(s["status"] == "mismatch" for s in doc["statements"]) == 3
