"""The rendered report: figures inside the bureau's sentences in every format, "无数据" for
null figures, last year's change where last year has data, charts, lineage and quality."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import Engine
from tiny_warehouse import PUBLISHED, add_batch, add_rows, open_tiny

from bureau_stats.settings import load_settings
from metrics.engine import Window
from report import charts
from report.model import build_report, period_text
from report.render import parse_formats, render_report

PNG = b"\x89PNG\r\n\x1a\n"


def reg(on: date, txn: str, channel: str) -> dict[str, object]:
    return {"txn_type": txn, "channel": channel, "approved_on": on, "applied_on": on}


@pytest.fixture()
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = open_tiny(sqlite_url)
    jan = add_batch(engine, "registration", "经营主体登记业务明细_20240101-20240131.csv")
    add_rows(
        engine,
        "registration",
        [reg(date(2024, 1, 5), "设立登记", "网上办理")] * 3
        + [
            reg(date(2024, 1, 6), "设立登记", "窗口办理"),
            reg(date(2024, 1, 7), "变更登记", "网上办理"),
        ],
        batch_id=jan,
    )
    add_rows(engine, "registration", [reg(date(2024, 3, 5), "变更登记", "窗口办理")])
    add_rows(
        engine,
        "cases",
        [
            {
                "status": "已结案",
                "filed_on": date(2024, 2, 1),
                "closed_on": date(2024, 4, 1),
                "category": "食品",
                "penalty_yuan": Decimal("12500"),
                "to_police": False,
            }
        ],
    )
    add_rows(
        engine,
        "ip_stats",
        [
            {
                "month": date(2024, 5, 1),
                "region": "蓬江区",
                "patents_granted_ytd": 400,
                "valid_invention_patents": 1100,
                "valid_trademarks": 30000,
            }
        ],
    )
    last_year = add_batch(engine, "ip_stats", period=(date(2023, 1, 1), date(2023, 12, 31)))
    add_rows(  # in a delivery of last year: the year-on-year figure is complete
        engine,
        "ip_stats",
        [
            {
                "month": date(2023, 5, 1),
                "region": "蓬江区",
                "patents_granted_ytd": 300,
                "valid_invention_patents": 1000,
                "valid_trademarks": 29000,
            }
        ],
        batch_id=last_year,
    )
    add_rows(
        engine, "ip_pledge", [{"registered_on": date(2024, 6, 1), "amount_wan": Decimal("1250")}]
    )
    add_batch(
        engine,
        "inspections",
        "监督检查记录_20240101-20240131.csv",
        status="quarantined",
        rows_read=20,
        rows_rejected=5,
        reason="reject_share",
    )
    yield engine
    engine.dispose()


@pytest.fixture()
def rendered(engine: Engine, tmp_path: Path) -> dict[str, Path]:
    written = render_report(engine, 2024, None, tmp_path / "out", "md,html,docx", load_settings())
    return {p.suffix.lstrip("."): p for p in written if p.suffix != ".png"}


def docx_text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts.extend(cell.text for row in table.rows for cell in row.cells)
    return "\n".join(parts)


SENTENCES = [
    "2024年共办理设立登记业务4笔,其中网上业务3笔;办理变更业务2笔,其中网上业务1笔。",
    "设立登记网办率75.00%",
    "罚没金额1.25万元",
    "办结食品类案件1宗",
    "截至2024年5月,蓬江区专利授权量400件;有效发明专利量1100件,同比增长10.00%;商标有效注册量30000件。",
    "办理知识产权质押融资1笔",
    "质押登记金额0.13亿元",
]


@pytest.mark.parametrize("fmt", ["md", "html", "docx"])
def test_figures_appear_in_the_bureaus_sentences(rendered: dict[str, Path], fmt: str) -> None:
    text = docx_text(rendered[fmt]) if fmt == "docx" else rendered[fmt].read_text(encoding="utf-8")
    for sentence in SENTENCES:
        assert sentence in text, sentence
    # the file each figure came from, and the data-quality appendix
    assert "经营主体登记业务明细_*.csv: 20240101-20240131(3行)" in text
    assert "监督检查记录_20240101-20240131.csv" in text and "reject_share" in text


def test_null_figures_read_wu_shu_ju(engine: Engine, tmp_path: Path) -> None:
    written = render_report(engine, 2024, date(2024, 4, 30), tmp_path, ["md"], None)
    text = next(p for p in written if p.suffix == ".md").read_text(encoding="utf-8")
    # no IP statistics month on or before 30 April: latest-month figures and yoy are null
    assert (
        "蓬江区专利授权量无数据;有效发明专利量无数据,同比增长无数据;商标有效注册量无数据。" in text
    )
    assert "2024年1-4月共办理设立登记业务4笔" in text
    assert "| 设立登记网办率 | `reg.establish.online_share` | 75.00 | % |" in text


def test_change_against_last_year_only_where_it_has_data(engine: Engine) -> None:
    report = build_report(engine, 2024, charts=False)
    rows = {r.code: r for r in report.figures}
    assert rows["ip.valid_invention"].has_previous
    assert rows["ip.valid_invention"].previous == 1000
    assert rows["ip.valid_invention"].change_text == "+100件"
    assert rows["ip.valid_invention"].change_pct_text == "+10.00%"
    assert not rows["reg.establish"].has_previous
    assert rows["reg.establish"].previous_text == "—"
    ip = next(a for a in report.areas if a.area == "ip")
    licensing = next(a for a in report.areas if a.area == "licensing")
    assert ip.has_previous and not licensing.has_previous


def test_html_is_self_contained_with_embedded_charts(rendered: dict[str, Path]) -> None:
    html = rendered["html"].read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3
    assert all(base64.b64decode(i).startswith(PNG) for i in images)
    assert "<link" not in html and 'src="http' not in html


def test_markdown_links_its_chart_files(rendered: dict[str, Path]) -> None:
    md = rendered["md"].read_text(encoding="utf-8")
    for name in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (rendered["md"].parent / name).read_bytes().startswith(PNG)


def test_docx_sets_an_east_asian_font_and_embeds_charts(rendered: dict[str, Path]) -> None:
    with zipfile.ZipFile(rendered["docx"]) as z:
        document = z.read("word/document.xml").decode("utf-8")
        styles = z.read("word/styles.xml").decode("utf-8")
        media = [n for n in z.namelist() if n.startswith("word/media/")]
    assert 'w:eastAsia="宋体"' in document and 'w:eastAsia="宋体"' in styles
    assert 'w:eastAsia="黑体"' in styles
    assert len(media) == 3


def test_chart_falls_back_without_a_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    with pytest.warns(charts.NoCJKFontWarning):
        png = charts.trend_chart(
            "行政许可", [charts.Series("reg.establish", "设立登记业务", [1, 2] + [None] * 10)]
        )
    assert png.startswith(PNG)


def test_a_cjk_font_is_found_here() -> None:
    """This machine has one installed (fonts-wqy-microhei / fonts-noto-cjk, see README)."""
    assert charts.cjk_font() in charts.CJK_FAMILIES


def test_templates_can_be_overridden(engine: Engine, tmp_path: Path) -> None:
    custom = tmp_path / "templates"
    custom.mkdir()
    (custom / "passages_licensing.j2").write_text(
        "本年设立登记{{ vu('reg.establish') }}。", encoding="utf-8"
    )
    report = build_report(engine, 2024, templates_dir=custom, charts=False)
    assert report.areas[0].passages == ("本年设立登记4笔。",)


def test_a_report_of_the_past_lists_only_the_files_known_then(
    engine: Engine, tmp_path: Path
) -> None:
    later = PUBLISHED + timedelta(days=30)
    add_batch(
        engine,
        "cases",
        "行政处罚案件_20240101-20240131.xlsx",
        published_at=later,
        status="quarantined",
        rows_read=10,
        rows_rejected=9,
        reason="reject_share",
    )
    known_at = PUBLISHED + timedelta(days=1)
    written = render_report(
        engine, 2024, None, tmp_path / "past", "md,html,docx", load_settings(), as_known_at=known_at
    )
    texts = {
        p.suffix: docx_text(p) if p.suffix == ".docx" else p.read_text(encoding="utf-8")
        for p in written
        if p.suffix != ".png"
    }
    for text in texts.values():
        assert "监督检查记录_20240101-20240131.csv" in text  # first seen before: listed
        assert "行政处罚案件_20240101-20240131.xlsx" not in text  # arrived after: not
        assert "仅列截至 2025-01-11 10:00 已收到的文件" in text
    now = render_report(engine, 2024, None, tmp_path / "now", "md", load_settings())
    text = next(p for p in now if p.suffix == ".md").read_text(encoding="utf-8")
    assert "行政处罚案件_20240101-20240131.xlsx" in text and "仅列截至" not in text


def test_the_title_names_the_bureau_not_the_ip_region(engine: Engine) -> None:
    assert build_report(engine, 2024, charts=False).title == "蓬江区市场监督管理局2024年度统计报告"
    other = build_report(
        engine, 2024, region="江门市", bureau="江门市蓬江区市场监督管理局", charts=False
    )
    assert other.title == "江门市蓬江区市场监督管理局2024年度统计报告"
    assert other.region == "江门市"


def test_period_wording() -> None:
    assert period_text(Window.of(2024)) == "2024年"
    assert period_text(Window.of(2024, date(2024, 6, 30))) == "2024年1-6月"
    assert period_text(Window.of(2024, date(2024, 1, 31))) == "2024年1月"
    assert period_text(Window.of(2024, date(2024, 12, 27))) == "2024年1月1日至12月27日"


def test_unknown_format_is_refused() -> None:
    assert parse_formats("md, DOCX,html,md") == ["md", "docx", "html"]
    with pytest.raises(ValueError, match="pdf"):
        parse_formats("md,pdf")


def test_docx_opens_as_a_document(rendered: dict[str, Path]) -> None:
    doc = Document(io.BytesIO(rendered["docx"].read_bytes()))
    assert doc.paragraphs[0].text == "蓬江区市场监督管理局2024年度统计报告"
