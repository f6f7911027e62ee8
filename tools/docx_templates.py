"""Write the two Word templates the project ships (report/templates/*.docx) with python-docx,
so that they are reproducible and reviewable as code: `python -m tools.docx_templates`.

- `statistics.docx`: the statistics report `report` renders, as a template. Its passages are
  the wording of report/templates/passages_*.j2 turned into placeholders (`vu('reg.establish')`
  becomes `{{ reg.establish }}笔`); its tables list the catalog's figures of each area.
- `rule_of_law.docx`: a skeleton of the annual rule-of-law report (法治政府建设年度报告) in six
  chapters, the figures placed where the chapters state them, including the figures offices
  keep by hand (legal.*, fairness.*, litigation.*, …) and figures at their own cut-off.

Staff edit a copy in Word; these files are only the starting point.
"""

from __future__ import annotations

import argparse
import re
from importlib import resources
from pathlib import Path
from typing import Any

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from metrics.catalog import AREA_LABELS, AREAS, Catalog, load_catalog
from report.model import AREA_NUMBERS
from report.render import BODY_FONT, HEADING_FONT, _run, _styled_document, _table

TEMPLATES = Path(__file__).resolve().parents[1] / "report" / "templates"


# ------------------------------------------------------------------------ layout helpers


def title(doc: Any, text: str, subtitle: str) -> None:
    p = doc.add_paragraph(style="Title")
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, text, HEADING_FONT, 20, bold=True)
    meta = doc.add_paragraph()
    meta.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(meta, subtitle, size=10.5)


def heading(doc: Any, text: str, level: int = 1) -> None:
    p = doc.add_paragraph(style=f"Heading {level}")
    _run(p, text, HEADING_FONT, 15 if level == 1 else 13, bold=True)


def prose(doc: Any, text: str) -> None:
    p = doc.add_paragraph()
    p.paragraph_format.first_line_indent = Pt(24)
    p.paragraph_format.line_spacing = 1.5
    _run(p, text, size=12)


def header_footer(doc: Any, header: str, footer: str) -> None:
    section = doc.sections[0]
    for part, text in ((section.header, header), (section.footer, footer)):
        p = part.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _run(p, text, BODY_FONT, 9)


# ---------------------------------------------------------------------- statistics.docx

_HELPER = re.compile(r"\{\{\s*(vu|v|chg|growth)\('([^']+)'\)\s*\}\}")


def passages(area: str, catalog: Catalog) -> list[str]:
    """The area's passage template as docx placeholders, one string per paragraph."""
    text = (
        resources.files("report")
        .joinpath("templates")
        .joinpath(f"passages_{area}.j2")
        .read_text("utf-8")
    )
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.DOTALL)
    # the IP passage opens with the latest month when there is one; the template states it plainly
    text = re.sub(r"\{%\s*if ip_month\s*%\}.*?\{%\s*endif\s*%\}", "", text)

    def placeholder(m: re.Match[str]) -> str:
        helper, code = m.group(1), m.group(2)
        unit = catalog[code].unit
        return {
            "vu": f"{{{{ {code} }}}}{unit}",
            "v": f"{{{{ {code} }}}}",
            "chg": "",  # last year's change needs last year's data: left to staff
            "growth": f"同比增长{{{{ {code} }}}}{unit}",
        }[helper]

    text = _HELPER.sub(placeholder, text)
    blocks = re.split(r"\n\s*\n", text.strip())
    return ["".join(line.strip() for line in b.splitlines()) for b in blocks if b.strip()]


def statistics_template(catalog: Catalog) -> Any:
    doc = _styled_document()
    header_footer(doc, "{{ bureau }}", "{{ year }}年度统计报告")
    title(doc, "{{ bureau }}{{ year }}年度统计报告", "统计期间:{{ period }}(截至 {{ cut_off }})")
    for area in AREAS:
        heading(doc, f"{AREA_NUMBERS[area]}、{AREA_LABELS[area]}")
        for text in passages(area, catalog):
            prose(doc, text)
        rows = [[m.label, f"{{{{ {m.code} }}}}", m.unit] for m in catalog.in_area(area)]
        _table(
            doc,
            ["指标", "{{ year }}年", "单位"],
            rows,
            numeric=[1],
            widths=(8.0, 4.0, 3.8),
            size=10.5,
        )
    return doc


# --------------------------------------------------------------------- rule_of_law.docx

# (chapter heading, [(sub-heading or None, paragraph)]) in the project's own words.
RULE_OF_LAW: list[tuple[str, list[tuple[str | None, str]]]] = [
    (
        "一、依法全面履行市场监管职能",
        [
            (
                "(一)持续优化准入服务",
                "{{ period }},我局依法办理经营主体登记,推行全程网上办理。共办理设立登记业务"
                "{{ reg.establish }}笔,其中网上办理{{ reg.establish.online }}笔,网办率达"
                "{{ reg.establish.online_share }}%;办理变更登记业务{{ reg.change }}笔,"
                "省内迁移业务{{ reg.migrate_in }}笔,注销登记业务{{ reg.deregister }}笔。",
            ),
            (
                None,
                "依法实施行政许可:核发食品经营许可{{ food.issued }}家次,其中新办"
                "{{ food.issued.new }}家次、延续{{ food.issued.renewal }}家次;注销食品经营许可"
                "{{ food.cancelled }}家次;核准特种设备使用登记{{ seq.approved_units }}台(套);"
                "受理医疗器械许可{{ device.accepted }}宗。",
            ),
            (
                "(二)服务创新驱动发展",
                '截至10月底,全区专利授权量{{ ip.patents_granted | as_of("10-31") }}件,'
                '有效发明专利量{{ ip.valid_invention | as_of("10-31") }}件,同比增长'
                '{{ ip.valid_invention.yoy | as_of("10-31") }}%;商标有效注册量'
                '{{ ip.valid_trademarks | as_of("10-31") }}件。办理知识产权质押融资'
                "{{ pledge.count }}笔,质押登记金额{{ pledge.amount_yi }}亿元。推动"
                "{{ quality_credit.firms_rated_a }}家企业获评质量金融增信标准评价A级,获得授信额度"
                "{{ quality_credit.credit_line_yi }}亿元。",
            ),
        ],
    ),
    (
        "二、完善依法行政制度体系",
        [
            (
                "(一)发挥法律顾问作用",
                "我局及下属单位中聘请法律顾问的单位{{ legal.adviser_firms }}家,全年法律顾问"
                "出具法律意见{{ legal.opinions }}份,受委托出庭应诉行政诉讼"
                "{{ legal.represented.admin }}宗、民事诉讼{{ legal.represented.civil }}宗。",
            ),
            (
                "(二)落实公平竞争审查",
                "收集全区增量政策文件{{ fairness.new_documents }}件并逐件审查,出具公平竞争审查"
                "会审意见书{{ fairness.joint_opinions }}份,抽查存量文件"
                "{{ fairness.stock_documents }}份。",
            ),
        ],
    ),
    (
        "三、推进严格规范公正文明执法",
        [
            (
                "(一)依法查处违法行为",
                '截至12月27日,共查处各类经济违法案件{{ cases.filed | as_of("12-27") }}宗。'
                "全年移送公安机关案件{{ cases.to_police }}宗,罚没金额{{ cases.penalty_wan }}万元;"
                "办结食品类案件{{ cases.closed.food }}宗、药品化妆品和医疗器械类案件"
                "{{ cases.closed.drug_cosmetic_device }}宗、质量案件{{ cases.closed.quality }}宗、"
                "特种设备案件{{ cases.closed.special_equipment }}宗。",
            ),
            (
                "(二)坚持包容审慎监管",
                "落实轻微违法行为不予处罚和从轻减轻处罚制度,办理减轻处罚案件"
                "{{ cases.mitigated }}宗、免罚案件{{ cases.exempted }}宗。",
            ),
            (
                "(三)规范监督检查",
                '公示单部门抽查事项清单{{ random.items.single_dept | as_of("03-31") }}项、'
                '联合抽查事项清单{{ random.items.joint | as_of("03-31") }}项;下达双随机抽查任务'
                "{{ random.tasks }}个,检查市场主体{{ random.market_entities }}家、非市场主体"
                "{{ random.non_market_entities }}家。检查药品零售企业{{ insp.drug_retail }}家次、"
                "医疗器械经营企业{{ insp.device_trade }}家次。",
            ),
            (
                "(四)保护知识产权",
                "受理专利侵权纠纷案件{{ ipcase.patent_dispute }}宗,查处商标侵权案件"
                "{{ ipcase.trademark }}宗、假冒专利案件{{ ipcase.counterfeit_patent }}宗,核查电商"
                "平台侵权线索{{ ipcase.ecommerce_leads }}条。",
            ),
        ],
    ),
    (
        "四、强化对行政权力的制约和监督",
        [
            (
                "(一)依法做好行政应诉",
                '截至11月13日,办理行政应诉案件{{ litigation.cases | as_of("11-13") }}宗,其中一审'
                '{{ litigation.cases.first_instance | as_of("11-13") }}宗、二审'
                '{{ litigation.cases.second_instance | as_of("11-13") }}宗;已审结'
                '{{ litigation.concluded | as_of("11-13") }}宗,败诉'
                '{{ litigation.lost | as_of("11-13") }}宗。全年出庭应诉率'
                "{{ litigation.appearance_rate }}%,负责人出庭应诉率"
                "{{ litigation.head_appearance_rate }}%。",
            ),
            (
                "(二)自觉接受外部监督",
                "全年收到检察建议书{{ oversight.procuratorial }}份、司法建议书"
                "{{ oversight.judicial }}份,均按期办理回复;与检察机关、公安机关开展业务研讨会"
                "{{ coop.seminars }}期次。",
            ),
        ],
    ),
    (
        "五、提升法治宣传教育和执法人员法治素养",
        [
            (
                None,
                "组织执法工作专题研讨会{{ training.seminars }}期,围绕新修订法律法规和典型案例"
                "开展学习;结合执法办案开展普法宣传,落实“谁执法谁普法”责任。",
            ),
        ],
    ),
    (
        "六、存在的问题和下一步工作计划",
        [
            (
                None,
                "(此处由业务科室填写本年度存在的主要问题,如执法力量、队伍专业能力、"
                "新兴业态监管等方面的不足。)",
            ),
            (
                None,
                "(此处填写下一年度的工作计划:完善制度、规范执法、加强监督、深化普法等。)",
            ),
        ],
    ),
]


def rule_of_law_template() -> Any:
    doc = _styled_document()
    header_footer(doc, "{{ bureau }}", "{{ year }}年法治政府建设年度报告")
    title(doc, "{{ bureau }}{{ year }}年法治政府建设年度报告", "(数据截至 {{ cut_off }})")
    prose(
        doc,
        "{{ year }}年,{{ bureau }}坚持依法行政,围绕法治政府建设年度任务,依法履行市场监管"
        "职能。现将本年度法治政府建设情况报告如下。",
    )
    for chapter, sections in RULE_OF_LAW:
        heading(doc, chapter)
        for sub, text in sections:
            if sub:
                heading(doc, sub, level=2)
            prose(doc, text)
    heading(doc, "附表 主要数据")
    rows = [
        ["设立登记业务", "{{ reg.establish }}", "笔"],
        ["核发食品经营许可", "{{ food.issued }}", "家次"],
        ["查处各类经济违法案件(截至12月27日)", '{{ at("12-27").cases.filed }}', "宗"],
        ["出具法律意见", "{{ legal.opinions }}", "份"],
        ["办理行政应诉案件(截至11月13日)", '{{ at("11-13").litigation.cases }}', "宗"],
    ]
    _table(
        doc, ["指标", "{{ year }}年", "单位"], rows, numeric=[1], widths=(8.0, 4.0, 3.8), size=10.5
    )
    return doc


def write_templates(out: Path, catalog: Catalog | None = None) -> list[Path]:
    catalog = catalog or load_catalog()
    written = []
    for name, doc in (
        ("statistics", statistics_template(catalog)),
        ("rule_of_law", rule_of_law_template()),
    ):
        path = out / f"{name}.docx"
        doc.save(str(path))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TEMPLATES)
    args = parser.parse_args()
    for path in write_templates(args.out):
        print(path)


if __name__ == "__main__":
    main()
