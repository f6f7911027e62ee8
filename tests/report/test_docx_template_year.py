"""The shipped Word templates on a generated year (tests/corpora.py, ingested once by the real
pipeline): every placeholder filled with the warehouse's figure at its cut-off, none left in any
paragraph, cell, header or footer; `report --template` from the command line, and its one-line
exit 2 on an unknown code.

The rule-of-law skeleton also states the figures offices keep by hand (legal.opinions, …): the
demo year's filled workbook loads them like any export, and each must read as the project's
copy of manual-figures-2024.json gives it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from corpora import YEAR, Corpus, Figure, as_figure
from docx import Document
from docx_helpers import docx_texts, make_docx, placeholders_left
from sqlalchemy import Engine
from typer.testing import CliRunner

from bureau_stats.cli import load_commands
from bureau_stats.cli.app import app
from bureau_stats.settings import load_settings
from metrics.catalog import AREAS, load_catalog
from metrics.engine import compute_metrics, parse_timestamp
from report.docx_template import render_template, shipped_template, template_context

MANUAL = Path(__file__).resolve().parents[2] / "demo_data" / "manual-figures-2024.json"
YEAR_END = date(YEAR, 12, 31)
PLAIN = {
    "year": str(YEAR),
    "period": f"{YEAR}年",
    "region": "蓬江区",
    "bureau": "蓬江区市场监督管理局",
    "cut_off": f"{YEAR}年12月31日",
}
# {{ code }}, {{ code | as_of("MM-DD") }}, {{ at("MM-DD").code }}
PLACEHOLDER = re.compile(
    r"\{\{\s*(?:at\(\"(?P<at>[\d-]+)\"\)\.)?(?P<code>[\w.]+)"
    r"(?:\s*\|\s*as_of\(\"(?P<as_of>[\d-]+)\"\))?\s*\}\}"
)


@pytest.fixture(scope="module")
def loaded(
    demo_corpus: Corpus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Engine]]:
    """The demo year ingested once by the real pipeline into a fresh SQLite warehouse."""
    from flows.run import ingest
    from warehouse.engine import open_warehouse

    var = tmp_path_factory.mktemp("docx-template-year")
    url = f"sqlite:///{var / 'warehouse.db'}"
    settings = load_settings(
        var_dir=var, landing=str(demo_corpus.landing), warehouse_url=url, pii_key="docx-test-key"
    )
    ingest(settings)
    engine = open_warehouse(url)
    yield url, engine
    engine.dispose()


def manual_figures() -> dict[str, Figure]:
    doc = json.loads(MANUAL.read_text("utf-8"))
    return {code: as_figure(spec["value"]) for code, spec in doc["metrics"].items()}


def shown(value: Figure) -> str:
    return "无数据" if value is None else str(value)


def test_rule_of_law_skeleton_renders_every_figure_at_its_cut_off(
    loaded: tuple[str, Engine], demo_corpus: Corpus
) -> None:
    _, engine = loaded
    manual = manual_figures()
    context = template_context(engine, YEAR, region=PLAIN["region"], bureau=PLAIN["bureau"])
    template = shipped_template("rule_of_law").read_bytes()
    rendered = render_template(template, context)
    assert placeholders_left(rendered) == []

    # What each placeholder must read, computed apart from the renderer: the generator's plan
    # where it gives the figure at that cut-off, else the engine (not the mart), else the
    # manual figure.
    from_plan: list[str] = []
    engine_figures: dict[date, dict[str, Figure]] = {}
    manual_checked: list[str] = []

    def expected(m: re.Match[str]) -> str:
        code = m.group("code")
        if code in PLAIN:
            return PLAIN[code]
        cut = m.group("at") or m.group("as_of")
        day = date(YEAR, *map(int, cut.split("-"))) if cut else YEAR_END
        plan = demo_corpus.expected.get(day, {})
        if day not in engine_figures:
            engine_figures[day] = compute_metrics(engine, YEAR, day)
        if code in plan:  # equal in value; written as the engine rounds it (1.2 -> 1.20)
            assert engine_figures[day][code] == plan[code], code
            from_plan.append(code)
        if code in manual:  # the offices' figure, as the contract's copy gives it
            assert engine_figures[day][code] == manual[code], code
            manual_checked.append(code)
        return shown(engine_figures[day][code])

    want = [PLACEHOLDER.sub(expected, text) for text in docx_texts(template)]
    assert docx_texts(rendered) == want
    assert len(set(from_plan)) >= 25  # most export figures checked against the plan itself
    assert {"cases.filed", "ip.valid_invention.yoy"} <= set(from_plan)  # at 12-27 and 10-31
    assert "全年法律顾问出具法律意见142份" in "".join(want)  # a manual figure, from the workbook
    assert len(set(manual_checked)) >= 10
    assert "※" not in "".join(docx_texts(rendered))  # the demo year is complete


def invoke(*args: str) -> tuple[int, str, str]:
    load_commands()
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_statistics_template_from_the_command_line(
    loaded: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = loaded
    cut_off = date(YEAR, 10, 31)
    code, out, err = invoke(
        "report",
        "--template",
        "statistics",
        "--year",
        str(YEAR),
        "--as-of",
        str(cut_off),
        "--out",
        str(tmp_path),
        "--warehouse",
        url,
    )
    assert code == 0, err
    path = tmp_path / "statistics_2024_20241031.docx"
    assert out.strip() == str(path)
    data = path.read_bytes()
    assert placeholders_left(data) == []
    values = compute_metrics(engine, YEAR, cut_off)
    catalog = load_catalog()
    tables = Document(str(path)).tables
    assert len(tables) == len(AREAS)
    for area, table in zip(AREAS, tables, strict=True):
        rows = [[c.text for c in row.cells] for row in table.rows]
        assert rows[0] == ["指标", f"{YEAR}年", "单位"]
        assert rows[1:] == [[m.label, shown(values[m.code]), m.unit] for m in catalog.in_area(area)]
    texts = docx_texts(data)
    opening = f"{YEAR}年1-10月共办理设立登记业务{values['reg.establish']}笔,"
    assert [t for t in texts if t.startswith(opening)]


def test_unknown_code_exits_2_with_one_line(loaded: tuple[str, Engine], tmp_path: Path) -> None:
    url, _ = loaded
    template = tmp_path / "ours.docx"
    paragraph = "出具法律意见{{ legal.opinons }}份。"
    template.write_bytes(make_docx(["{{ reg.establish }}", paragraph]))
    code, out, err = invoke(
        "report",
        "--template",
        str(template),
        "--year",
        str(YEAR),
        "--out",
        str(tmp_path / "o"),
        "--warehouse",
        url,
    )
    assert (code, out) == (2, "")
    assert err.strip() == f"error: ours.docx: unknown code legal.opinons in paragraph «{paragraph}»"
    assert not (tmp_path / "o").exists()
    code, _, err = invoke(
        "report", "--template", "nosuch", "--year", str(YEAR), "--out", str(tmp_path)
    )
    assert code == 2 and err.startswith("error: 'nosuch' is neither a .docx file")


def test_as_known_at_renders_what_the_warehouse_held_then(
    loaded: tuple[str, Engine], tmp_path: Path
) -> None:
    """Before the first delivery arrived the warehouse knew no row: every count reads 0, and
    every figure is marked incomplete (nothing was published then)."""
    url, engine = loaded
    moment = "2000-01-01T08:00:00+08:00"
    code, out, err = invoke(
        "report",
        "--template",
        "statistics",
        "--year",
        str(YEAR),
        "--as-known-at",
        moment,
        "--out",
        str(tmp_path),
        "--warehouse",
        url,
    )
    assert code == 0, err
    then = compute_metrics(engine, YEAR, as_known_at=parse_timestamp(moment))
    now = compute_metrics(engine, YEAR)
    assert then["reg.establish"] == 0 != now["reg.establish"]
    table = Document(out.strip()).tables[0]
    assert [row.cells[1].text for row in table.rows[1:]] == [
        shown(then[m.code]) + "※" for m in load_catalog().in_area("licensing")
    ]
