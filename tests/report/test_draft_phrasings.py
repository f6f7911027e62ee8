"""The draft matcher (report.draft_check, pure): many ways a report writes a figure."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from draft_edits import alter_docx, alter_text

from metrics.catalog import CatalogError, load_catalog, parse_catalog
from report.draft_check import (
    Statement,
    as_json,
    build_matcher,
    check,
    cut_off,
    find_statements,
    not_stated,
)
from report.draft_numbers import chinese_number, normalise, read_number, verdict
from report.draft_read import read_blocks, text_blocks

YEAR = 2024
END = date(YEAR, 12, 31)


def found(*blocks: str) -> list[Statement]:
    return find_statements(list(blocks), load_catalog(), YEAR)[0]


def pairs(*blocks: str) -> list[tuple[str, Decimal]]:
    return [(s.code, s.written.number) for s in found(*blocks)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("五", 5),
        ("十", 10),
        ("十二", 12),
        ("二十三", 23),
        ("一百四十二", 142),
        ("一百零五", 105),
        ("两千", 2000),
        ("两万三千", 23000),
        ("一万零一", 10001),
        ("三亿五千万", 350_000_000),
        ("一〇二", 102),
    ],
)
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_number(text) == value


@pytest.mark.parametrize("text", ["", "万", "五个", "abc"])
def test_not_chinese_numerals(text: str) -> None:
    with pytest.raises(ValueError):
        chinese_number(text)


@pytest.mark.parametrize(
    ("text", "code", "number"),
    [
        ("共办理设立登记业务20071笔。", "reg.establish", Decimal(20071)),
        ("设立登记业务20,071笔。", "reg.establish", Decimal(20071)),
        ("受理设立登记业务申请共计20,071笔。", "reg.establish", Decimal(20071)),
        ("设立登记业务:20071笔。", "reg.establish", Decimal(20071)),
        ("全年共办结20071笔设立登记业务。", "reg.establish", Decimal(20071)),
        ("设立登记业务2.0071万笔。", "reg.establish", Decimal(20071)),
        ("核准特种设备使用登记593台(套)。", "seq.approved_units", Decimal(593)),
        ("核准特种设备使用登记593台（套）。", "seq.approved_units", Decimal(593)),
        ("核准特种设备使用登记593台套。", "seq.approved_units", Decimal(593)),
        ("核准特种设备使用登记５９３台。", "seq.approved_units", Decimal(593)),
        ("开展加油机作弊专项执法五期。", "campaign.fuel.rounds", Decimal(5)),
        ("出具法律意见一百四十二份", None, None),
        ("罚没金额1.2亿元。", "cases.penalty_wan", Decimal(12000)),
        ("罚没金额3,500.5万元。", "cases.penalty_wan", Decimal("3500.5")),
        ("罚没金额12500元。", "cases.penalty_wan", Decimal("1.25")),
        ("质押登记金额1.25亿元。", "pledge.amount_yi", Decimal("1.25")),
        ("质押登记金额2500万元。", "pledge.amount_yi", Decimal("0.25")),
        ("设立登记网办率99.77%。", "reg.establish.online_share", Decimal("99.77")),
        ("下达双随机抽查任务两个。", "random.tasks", Decimal(2)),
        ("商标有效注册量2.5万件。", "ip.valid_trademarks", Decimal(25000)),
        ("| 设立登记业务 | `reg.establish` | 20071 | 笔 |", "reg.establish", Decimal(20071)),
    ],
)
def test_one_figure_in_many_phrasings(text: str, code: str | None, number: Decimal | None) -> None:
    got = pairs(text)
    if code is None:  # a figure of no catalog metric (until the manual source adds it)
        assert all(c.startswith(("legal.", "manual.")) for c, _ in got), got
        return
    assert got == [(code, number)]


@pytest.mark.parametrize(
    "text",
    [
        "设立登记业务增长5%。",  # a change, not the figure: other unit
        "设立登记业务2024年以来持续增长。",  # a year
        "设立登记业务办理时限压缩至3个工作日。",
        "其中网上业务20025笔。",  # a sub-figure with no parent in its sentence or paragraph
        "同比增长5%。",
        "设立登记业务,全年持续优化。",  # no number in the clause
        "变更812家次。",
    ],
)
def test_no_statement(text: str) -> None:
    assert pairs(text) == []


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        (  # sub-figures follow their parent
            "办理设立登记业务20071笔,其中网上业务20025笔;办理变更业务14107笔,其中网上业务5248笔。",
            "reg.establish reg.establish.online reg.change reg.change.online",
        ),
        (  # a label several campaigns share follows its campaign
            "开展烧烤餐饮店安全整治3期次,出动执法人员90人次,检查烧烤店50家次。"
            "开展无证经营烟草专项整治5期次,出动执法人员120人次。",
            "campaign.bbq.rounds campaign.bbq.officers campaign.bbq.sites "
            "campaign.tobacco.rounds campaign.tobacco.officers",
        ),
        (  # an elliptical label takes the subject of the figure before it
            "检查药品零售企业589家次、使用单位143家次,"
            "检查医疗器械经营企业571家次、使用单位140家次、生产企业4家次。",
            "insp.drug_retail insp.drug_user insp.device_trade insp.device_user insp.device_maker",
        ),
        (  # siblings, with last year's change clause between parent and children
            "核发食品经营许可5241家次,比上年增长3.2%,其中新办3985家次、变更812家次、补发7家次、"
            "延续437家次;注销食品经营许可3195家次。",
            "food.issued food.issued.new food.issued.change food.issued.reissue "
            "food.issued.renewal food.cancelled",
        ),
        (  # a table row finds its parent in the row above
            "设立登记业务 | 20071 | 笔\n其中网上业务 | 20025 | 笔\n"
            "变更登记业务 | 14107 | 笔\n其中网上业务 | 5248 | 笔",
            "reg.establish reg.establish.online reg.change reg.change.online",
        ),
    ],
)
def test_context_decides_what_a_label_means(text: str, codes: str) -> None:
    assert [c for c, _ in pairs(text)] == codes.split()
    numbers = [int(n) for n in re.findall(r"\d+(?=\s*\|?\s*[笔家人期])", text)]
    assert [int(n) for _, n in pairs(text)] == numbers


def test_a_code_written_beside_the_label_decides() -> None:
    assert pairs("| 其中网上业务 | `reg.change.online` | 5248 | 笔 |") == [
        ("reg.change.online", 5248)
    ]


def test_year_on_year_growth_and_decline() -> None:
    assert pairs("有效发明专利量1100件,同比增长8.50%。")[1] == (
        "ip.valid_invention.yoy",
        Decimal("8.50"),
    )
    assert pairs("有效发明专利量1100件,同比下降3.2%。")[1] == (
        "ip.valid_invention.yoy",
        Decimal("-3.2"),
    )


@pytest.mark.parametrize(
    ("sentence", "as_of"),
    [
        ("截至10月,设立登记业务16000笔。", date(YEAR, 10, 31)),
        ("截至2024年10月底,设立登记业务16000笔。", date(YEAR, 10, 31)),
        ("设立登记业务16000笔(截至12月27日)。", date(YEAR, 12, 27)),
        ("设立登记业务16000笔（截至12月27日）。", date(YEAR, 12, 27)),
        ("截止到十一月十三日,设立登记业务16000笔。", date(YEAR, 11, 13)),
        ("截至 2024-06-30,设立登记业务16000笔。", date(YEAR, 6, 30)),
        ("1-10月,设立登记业务16000笔。", date(YEAR, 10, 31)),
        ("2024年1至2月,设立登记业务16000笔。", date(YEAR, 2, 29)),
        ("上半年设立登记业务16000笔。", date(YEAR, 6, 30)),
        ("2024年11-12月,设立登记业务16000笔。", END),  # not from January: no cut-off
        ("前三季度设立登记业务16000笔。", date(YEAR, 9, 30)),
        ("设立登记业务16000笔。", END),
        ("截至2023年10月,设立登记业务16000笔。", END),  # another year: not this report's cut-off
    ],
)
def test_cut_off_stated_in_the_sentence(sentence: str, as_of: date) -> None:
    (statement,) = found(sentence)
    assert statement.as_of == as_of


def test_a_cut_off_holds_for_its_sentence_only() -> None:
    got = found("截至10月,设立登记业务16000笔。全年注销登记业务3000笔。")
    assert [s.as_of for s in got] == [date(YEAR, 10, 31), END]
    assert cut_off("全年", YEAR) is None


@pytest.mark.parametrize(
    ("text", "qualifier", "inside", "outside"),
    [
        ("设立登记业务超2万笔。", "超", [20000, 20071, 29999], [19999, 30000]),
        ("设立登记业务逾20000笔。", "逾", [20071], [19000, 31000]),
        ("设立登记业务2万余笔。", "余", [20071], [19999, 30000]),
        ("设立登记业务2万多笔。", "多", [25000], [30001]),
        ("检查药品零售企业600多家次。", "多", [600, 699], [599, 700]),
        ("检查药品零售企业近600家次。", "近", [589, 600], [500, 601]),
        ("检查药品零售企业将近600家次。", "将近", [590], [620]),
        ("检查药品零售企业约600家次。", "约", [550, 589, 650], [549, 651]),
        ("检查药品零售企业600家次左右。", "左右", [589], [700]),
        ("检查药品零售企业500家次以上。", "以上", [589], [499, 600]),
        ("罚没金额约1.2亿元。", "约", [11500, 12499], [11499, 12501]),
        ("出动执法人员一百余人次。", None, [], []),  # no parent: not a statement
    ],
)
def test_qualifiers_make_a_range(
    text: str, qualifier: str | None, inside: list[int], outside: list[int]
) -> None:
    got = found(text)
    if qualifier is None:
        assert got == []
        return
    (statement,) = got
    assert statement.written.qualifier == qualifier
    for value in inside:
        assert verdict(statement.written, value) == "approximate", value
    for value in outside:
        assert verdict(statement.written, value) == "mismatch", value


@pytest.mark.parametrize(
    ("text", "value", "status"),
    [
        ("设立登记业务20071笔。", 20071, "match"),
        ("设立登记业务20071笔。", 20072, "mismatch"),
        ("设立登记业务20071笔。", None, "mismatch"),
        ("设立登记业务2.01万笔。", 20071, "match"),  # checked at the precision written
        ("设立登记业务2.01万笔。", 20049, "mismatch"),
        ("设立登记网办率99.8%。", Decimal("99.77"), "match"),
        ("设立登记网办率99.77%。", Decimal("99.78"), "mismatch"),
        ("罚没金额1234.56万元。", Decimal("1234.56"), "match"),
    ],
)
def test_exact_statements(text: str, value: int | Decimal | None, status: str) -> None:
    (statement,) = found(text)
    assert verdict(statement.written, value) == status


def test_check_uses_the_figure_at_each_statements_cut_off() -> None:
    statements = found("截至10月,设立登记业务16000笔。全年设立登记业务20071笔,注销登记业务1笔。")
    values = {
        date(YEAR, 10, 31): {"reg.establish": 16000},
        END: {"reg.establish": 20071, "reg.deregister": 2},
    }
    checked = check(statements, values)
    assert [(c.statement.code, c.value, c.status) for c in checked] == [
        ("reg.establish", 16000, "match"),
        ("reg.establish", 20071, "match"),
        ("reg.deregister", 2, "mismatch"),
    ]
    catalog = load_catalog()
    missing = not_stated(catalog, statements)
    assert "reg.establish" not in missing and "reg.change" in missing
    assert len(missing) == len(catalog) - 2
    doc = as_json(checked, missing)
    assert doc["statements"][0] == {
        "code": "reg.establish",
        "draft": 16000,
        "written": "16000笔",
        "value": 16000,
        "as_of": "2024-10-31",
        "status": "match",
        "text": "截至10月,设立登记业务16000笔。",
    }
    assert doc["not_stated"] == missing


def test_spans_point_at_the_number_in_the_draft() -> None:
    block = "全年共办理设立登记业务２００７１笔，其中网上业务20025笔。"
    got = found(block)
    assert [block[s.start : s.end] for s in got] == ["２００７１笔", "20025笔"]
    assert normalise(block).count(",") == 1


def test_ambiguous_shared_label_is_reported_unresolved() -> None:
    _, unresolved = find_statements(["全年出动执法人员3000人次。"], load_catalog(), YEAR)
    assert [u.phrase for u in unresolved] == ["出动执法人员"]
    assert "campaign.fuel.officers" in unresolved[0].codes


def test_the_matcher_comes_from_the_catalog(tmp_path: object) -> None:
    """A new metric with a variant is found with no change to the matcher."""
    text = """
metrics:
  - code: legal.opinions
    label: 出具法律意见
    variants: [法律意见书]
    unit: 份
    area: enforcement
    source: cases
    date: filed_on
    aggregate: count
"""
    catalog = parse_catalog(text)
    assert catalog["legal.opinions"].variants == ("法律意见书",)
    got = find_statements(["出具法律意见一百四十二份,审核法律意见书12份。"], catalog, YEAR)[0]
    assert [(s.code, s.written.number) for s in got] == [
        ("legal.opinions", 142),
        ("legal.opinions", 12),
    ]
    assert build_matcher(catalog).phrases["出具法律意见"][0].bound is False


def test_variants_must_be_a_list_of_strings() -> None:
    text = """
metrics:
  - code: x
    label: 出具法律意见
    variants: 法律意见书
    unit: 份
    area: enforcement
    source: cases
    date: filed_on
    aggregate: count
"""
    with pytest.raises(CatalogError, match="variants"):
        parse_catalog(text)


def test_a_unit_of_another_thing_is_no_figure() -> None:
    matcher = build_matcher(load_catalog())
    m = matcher.numbers.search("2024年")
    assert m is not None and read_number(m, "笔") is None


LITIGATION = """
metrics:
  - {code: litigation.cases, label: 办理行政应诉案件, unit: 宗, area: enforcement,
     source: cases, date: filed_on, aggregate: count}
  - {code: litigation.cases.first_instance, label: 一审案件, unit: 宗, like: litigation.cases,
     aggregate: count}
  - {code: litigation.cases.second_instance, label: 二审案件, unit: 宗, like: litigation.cases,
     aggregate: count}
  - {code: litigation.concluded, label: 已审结, unit: 宗, like: litigation.cases,
     aggregate: count}
  - {code: litigation.concluded.judgment_upheld, label: "判决驳回上诉,维持原判", unit: 宗,
     like: litigation.concluded, aggregate: count}
  - {code: litigation.concluded.suit_dismissed, label: 裁定驳回原告起诉, unit: 宗,
     like: litigation.concluded, aggregate: count}
  - {code: litigation.lost, label: 败诉案件, unit: 宗, like: litigation.cases, aggregate: count}
  - {code: legal.opinions, label: 出具法律意见, unit: 份, area: enforcement, source: cases,
     date: filed_on, aggregate: count}
  - {code: training.seminars, label: 执法工作专题研讨会, unit: 期, area: enforcement,
     source: cases, date: filed_on, aggregate: count}
"""


def test_figures_of_a_report_the_matcher_never_saw() -> None:
    """The wording of the 2024 report's rule-of-law chapter, on a catalog holding its labels."""
    text = (
        "截至11月13日,我局共办理行政应诉案件14宗,其中一审案件10宗、二审案件4宗;"
        "已审结5宗,其中判决驳回上诉,维持原判2宗、裁定驳回原告起诉2宗,败诉案件零宗。"
        "全年法律顾问出具法律意见一百四十二份,举办执法工作专题研讨会五期。"
    )
    statements, unresolved = find_statements([text], parse_catalog(LITIGATION), YEAR)
    assert unresolved == []
    assert [(s.code, int(s.written.number), s.as_of.month) for s in statements] == [
        ("litigation.cases", 14, 11),
        ("litigation.cases.first_instance", 10, 11),
        ("litigation.cases.second_instance", 4, 11),
        ("litigation.concluded", 5, 11),
        ("litigation.concluded.judgment_upheld", 2, 11),
        ("litigation.concluded.suit_dismissed", 2, 11),
        ("litigation.lost", 0, 11),
        ("legal.opinions", 142, 12),
        ("training.seminars", 5, 12),
    ]
    assert statements[0].as_of == date(YEAR, 11, 13)


def test_the_edit_helpers_alter_exactly_the_codes_they_return(tmp_path: Path) -> None:
    """draft_edits (reused by other draft tests): prose, two figures of one paragraph, tables."""
    text = (
        "办理设立登记业务20071笔,其中网上业务20025笔;办理变更业务14107笔。\n\n"
        "核准特种设备使用登记593台(套)。"
    )
    altered_text, codes = alter_text(text, 3)
    before = dict(pairs(*[b for _, b in text_blocks(text)]))
    after = dict(pairs(*[b for _, b in text_blocks(altered_text)]))
    assert {c for c in before if before[c] != after[c]} == set(codes) and len(codes) == 3

    document = Document()
    document.add_paragraph("办理设立登记业务20071笔,其中网上业务20025笔。")
    table = document.add_table(rows=2, cols=3)
    for row, cells in zip(
        table.rows, [("变更登记业务", "14107", "笔"), ("其中网上业务", "5248", "笔")], strict=True
    ):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    source, target = tmp_path / "a.docx", tmp_path / "b.docx"
    document.save(str(source))
    codes = alter_docx(source, target, 4)
    assert sorted(codes) == sorted(
        ["reg.establish", "reg.establish.online", "reg.change", "reg.change.online"]
    )
    before = dict(pairs(*read_blocks(source)))
    after = dict(pairs(*read_blocks(target)))
    assert all(before[c] != after[c] for c in codes) and after.keys() == before.keys()
