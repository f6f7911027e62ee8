"""A Word template's placeholders: codes with shared prefixes, cut-offs, the mark of an
incomplete figure, null figures, and the one-line failure of an unknown code (no warehouse:
the figures are given as a mapping, as the renderer takes them)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from docx_helpers import docx_texts, make_docx, placeholders_left

from report.docx_template import (
    NOTES_TITLE,
    SHIPPED_TEMPLATES,
    TemplateFigureError,
    render_template,
    resolve_template,
    shipped_template,
)
from report.figures import MARK, CutOff, FigureContext

REPO = Path(__file__).resolve().parents[2]
YEAR_END = date(2024, 12, 31)
VALUES = {
    "reg.establish": 1436,
    "reg.establish.online": 1400,
    "reg.establish.online_share": Decimal("97.49"),
    "litigation.cases": 15,
    "random.items.joint": 15,
    "ip.valid_invention.yoy": None,
}


@dataclass(frozen=True)
class FakeCoverage:
    complete: bool
    missing: str = ""

    def note(self) -> str:
        return f"缺{self.missing}(隔离)"


def context(
    coverage: dict[str, FakeCoverage] | None = None,
    asked: list[date] | None = None,
    main_day: date = YEAR_END,
) -> FigureContext:
    """The figures above at the report cut-off; at another day D every figure is D's day of
    the month times 100 plus its value (so a test sees which cut-off was read)."""

    def figures_at(day: date) -> CutOff:
        if asked is not None:
            asked.append(day)
        values = {c: None if v is None else day.day * 100 + v for c, v in VALUES.items()}
        return CutOff(day, values, {"litigation.cases": FakeCoverage(False, "2024-10")})

    return FigureContext(
        2024,
        CutOff(main_day, VALUES, coverage or {}),
        labels={"reg.establish": "设立登记业务", "litigation.cases": "办理行政应诉案件"},
        figures_at=figures_at,
        plain={"year": 2024, "bureau": "某区市场监督管理局"},
    )


def render(
    paragraphs: list[str | list[str]], ctx: FigureContext | None = None, **kw: str
) -> list[str]:
    data = render_template(make_docx(paragraphs, **kw), ctx or context())
    assert placeholders_left(data) == []
    return docx_texts(data)


def notes(texts: list[str]) -> list[str]:
    """The lines under the notes' title at the end of the body."""
    return [t for t in texts[texts.index(NOTES_TITLE) + 1 :] if t.startswith(f"{MARK} ")]


def test_codes_with_shared_prefixes_render_as_the_report_formats_them() -> None:
    texts = render(
        [
            "设立登记{{ reg.establish }}笔,其中网上{{ reg.establish.online }}笔,"
            "网办率{{ reg.establish.online_share }}%。",
            "同比{{ ip.valid_invention.yoy }}。",
        ],
        cells=["{{ year }}年", "{{ reg.establish }}"],
        header="{{ bureau }}",
        footer="{{ year }}年度报告",
    )
    assert texts[:2] == ["设立登记1436笔,其中网上1400笔,网办率97.49%。", "同比无数据。"]
    assert {"2024年", "1436", "某区市场监督管理局", "2024年度报告"} <= set(texts)


def test_placeholder_split_across_runs_and_curly_quotes_as_word_writes_them() -> None:
    texts = render(
        [
            ["共{{ reg.", "establish }}笔"],
            ["应诉{{ litigation.cases | as_of(“11-13", "”) }}宗"],
        ]
    )
    assert texts[:2] == ["共1436笔", f"应诉{13 * 100 + 15}{MARK}宗"]


def test_cut_off_syntax_picks_the_value_at_that_cut_off() -> None:
    asked: list[date] = []
    texts = render(
        [
            '{{ reg.establish | as_of("06-30") }}/{{ at("2024-06-30").reg.establish }}',
            '{{ at("11-13").litigation.cases }}/{{ litigation.cases | as_of("2024-11-13") }}',
            '{{ reg.establish | as_of("12-31") }}',
        ],
        context(asked=asked),
    )
    assert texts[:3] == [
        f"{3000 + 1436}/{3000 + 1436}",
        f"{1300 + 15}{MARK}/{1300 + 15}{MARK}",
        "1436",  # the report's own cut-off: its own figures, nothing asked again
    ]
    assert asked == [date(2024, 6, 30), date(2024, 11, 13)]  # each cut-off read once
    assert notes(texts) == [
        f"{MARK} 办理行政应诉案件(litigation.cases)(截至11月13日):缺2024-10(隔离)"
    ]


def test_a_cut_off_never_passes_the_reports_own() -> None:
    asked: list[date] = []
    texts = render(
        ['{{ reg.establish | as_of("12-27") }}'], context(asked=asked, main_day=date(2024, 6, 30))
    )
    assert texts[0] == "1436" and asked == []


def test_incomplete_figure_carries_the_mark_and_the_note_ends_the_document() -> None:
    coverage = {
        "reg.establish": FakeCoverage(False, "2024-09"),
        "reg.establish.online": FakeCoverage(True),
    }
    texts = render(
        [
            "设立登记{{ reg.establish }}笔,网上{{ reg.establish.online }}笔。",
            "再述{{ reg.establish }}。",
        ],
        context(coverage),
        cells=["{{ reg.establish }}"],
    )
    assert texts[:2] == [f"设立登记1436{MARK}笔,网上1400笔。", f"再述1436{MARK}。"]
    assert f"1436{MARK}" in texts  # the table cell
    assert notes(texts) == [f"{MARK} 设立登记业务(reg.establish):缺2024-09(隔离)"]


def test_complete_figures_have_no_mark_and_no_notes() -> None:
    texts = render(["{{ reg.establish }}"], context({"reg.establish": FakeCoverage(True)}))
    assert texts == ["1436"]  # nothing appended


@pytest.mark.parametrize(
    ("placeholder", "named"),
    [
        ("{{ reg.establsh }}", "unknown code reg.establsh"),
        ("{{ regg.establish }}", "unknown code regg.establish"),
        ('{{ reg.establish.onlin | as_of("06-30") }}', "unknown code reg.establish.onlin"),
        ('{{ at("06-30").reg.establsh }}', "unknown code reg.establsh"),
        ("{{ reg }}", "not a figure (only a prefix of codes): reg"),
        (
            '{{ reg.establish | as_of("13-01") }}',
            "a cut-off is MM-DD or YYYY-MM-DD in 2024, not 13-01",
        ),
        ('{{ reg.establish | as_of("2023-06-30") }}', "not 2023-06-30"),
    ],
)
def test_unknown_code_fails_naming_it_and_its_paragraph(placeholder: str, named: str) -> None:
    paragraph = f"全年共办理设立登记业务{placeholder}笔。"
    template = make_docx(["前言{{ year }}。", paragraph, "后文{{ reg.establish }}。"])
    with pytest.raises(TemplateFigureError) as raised:
        render_template(template, context())
    message = str(raised.value)
    assert named in message
    assert "\n" not in message
    if "cut-off" not in named:
        assert f"«{paragraph}»" in message


def test_unknown_code_in_a_table_cell_quotes_the_cell() -> None:
    with pytest.raises(
        TemplateFigureError,
        match=r"unknown code legal\.opinion in paragraph «\{\{ legal\.opinion \}\}份»",
    ):
        render_template(
            make_docx(["{{ reg.establish }}"], cells=["{{ legal.opinion }}份"]), context()
        )


def test_broken_jinja_fails_in_one_line() -> None:
    with pytest.raises(TemplateFigureError, match="template error") as raised:
        render_template(make_docx(["共{{ reg.establish 笔"]), context())
    assert "\n" not in str(raised.value)


def test_a_template_reaches_no_python_internals() -> None:
    for probe in ("{{ at.__globals__ }}", "{{ reg.establish.__class__.__mro__ }}"):
        with pytest.raises(TemplateFigureError) as raised:
            render_template(make_docx([probe]), context())
        assert "\n" not in str(raised.value)


def test_template_names_clashing_with_codes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\['reg'\]"):
        FigureContext(2024, CutOff(YEAR_END, VALUES), plain={"reg": 1})


def test_shipped_templates_resolve_by_name_and_paths_must_be_docx(tmp_path: Path) -> None:
    for name in SHIPPED_TEMPLATES:
        assert resolve_template(name) == shipped_template(name)
        assert shipped_template(name).is_file()
    with pytest.raises(ValueError, match="neither a .docx file"):
        resolve_template(str(tmp_path / "missing.docx"))
    (tmp_path / "t.txt").write_text("x")
    with pytest.raises(ValueError, match="neither a .docx file"):
        resolve_template(str(tmp_path / "t.txt"))


def test_shipped_templates_are_what_the_script_writes(tmp_path: Path) -> None:
    """The committed .docx files are the script's output (`python -m tools.docx_templates`)."""
    done = subprocess.run(
        [sys.executable, "-m", "tools.docx_templates", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    written = [Path(line) for line in done.stdout.splitlines()]
    assert sorted(p.stem for p in written) == sorted(SHIPPED_TEMPLATES)
    for path in written:
        assert docx_texts(path.read_bytes()) == docx_texts(shipped_template(path.stem).read_bytes())
