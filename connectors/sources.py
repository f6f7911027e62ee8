"""The nine exports and the offices' workbook of manual figures, each declared once (shared/spec/sources.md is the contract).

Everything else — the generic readers, the warehouse tables, the Great Expectations suites, the
demo generator — is derived from these declarations, so adding a source is adding data here.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Literal

ColumnType = Literal["text", "enum", "bool", "date", "epoch_ms_date", "month", "int", "decimal"]
FileFormat = Literal["csv", "xlsx", "json"]
Encoding = Literal["utf-8", "gb18030"]  # UTF-8 with or without BOM; GB18030
Check = Literal["uscc", "uscc_alphabet", "resident_id"]
# How often a source delivers: one export per calendar month, quarter or half-year (the
# periods of the contract's sample exports), or one workbook per calendar year (`manual`). It is also the span a delivery's name must declare,
# aligned on the calendar (a name declaring anything else is not a delivery), and each period's
# export is due by a configurable day of the month after it (BUREAU_STATS_DELIVERY_DUE_DAY;
# connectors/cadence.py).
Cadence = Literal["month", "quarter", "half_year", "year"]
PERIOD_MONTHS: dict[Cadence, int] = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}

BOOL_VALUES = {"是": True, "否": False}
CAMPAIGNS = ("加油机作弊专项", "无证经营烟草专项", "烧烤餐饮安全整治", "冻品走私联合检查")


@dataclass(frozen=True)
class When:
    """A condition on another field of the same row (its parsed value is in `values`)."""

    field: str
    values: frozenset[str]

    @staticmethod
    def of(field_name: str, *values: str) -> When:
        return When(field_name, frozenset(values))


@dataclass(frozen=True)
class Column:
    """One column of an export: its Chinese header, English field and rules."""

    header: str
    field: str
    type: ColumnType = "text"
    key: bool = False
    partition: bool = False
    required: bool = False
    # Closed value set (enum) and synonyms mapped onto it before the check.
    values: tuple[str, ...] = ()
    synonyms: dict[str, str] = dataclass_field(default_factory=dict)
    # Conditional presence: required when the condition holds ...
    required_when: When | None = None
    # ... and, for `blank_otherwise`, must be blank when it does not.
    blank_otherwise: bool = False
    # Enum/bool columns are required unless blank is explicitly allowed.
    blank_allowed: bool = False
    minimum: int | None = None
    maximum: int | None = None
    exclusive_minimum: bool = False
    pattern: str | None = None
    check: Check | None = None
    # Check chosen by another field's value, e.g. USCC for 单位, resident ID for 个人.
    check_by: tuple[str, dict[str, Check]] | None = None
    not_before: str | None = None
    not_above: str | None = None
    # A tighter maximum for the rows where a condition holds (rates: at most 100).
    maximum_when: tuple[When, int] | None = None
    # Personal data (PIPL, rule 7): hash identifiers / mask names when the condition holds.
    hash_when: When | None = None
    mask_when: When | None = None
    # Names a party (a person or an organisation): an identity number found in it makes the
    # party a natural person, whose name is masked too.
    party: bool = False
    # A year-to-date flow: should not decrease from one month to the next within a year.
    # Only warned about (a revision may lower it), never a reason to reject.
    ytd: bool = False
    # May a CSV cell of this column hold a line break? The contract names no such column: a
    # line break elsewhere is a stray or unclosed quote joining rows (the file is refused).
    multiline: bool = False

    @property
    def is_required(self) -> bool:
        """K, P, enum and bool columns are required unless their rule allows blank."""
        if self.required or self.key:
            return True
        if self.partition and self.required_when is None:
            return True
        if self.type in ("enum", "bool") and not self.blank_allowed and self.required_when is None:
            return True
        return False


@dataclass(frozen=True)
class Consistency:
    """A rule between rows of one file (the offices' figures must add up): at every cut-off
    (`per` field) where every code it names has a row, `total` relates to the sum of `parts`
    by `op` (`eq`: equal, `le`: at most). A file breaking one is quarantined naming `name`."""

    name: str
    total: str
    op: Literal["eq", "le"]
    parts: tuple[str, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class Source:
    """One export: where it lands, how it is laid out, and its columns."""

    code: str
    area: Literal["licensing", "enforcement", "ip", "legal"]
    label: str
    file_stem: str
    format: FileFormat
    columns: tuple[Column, ...]
    # csv: the encodings the contract names for the source (the one used is detected; any
    # other is quarantined `encoding`); xlsx: sheet name and header row (1-based).
    encodings: tuple[Encoding, ...] = ("utf-8", "gb18030")
    sheet: str | None = None
    header_row: int = 1
    # Monthly files are named <stem>_YYYYMM; period files <stem>_YYYYMMDD-YYYYMMDD.
    monthly: bool = False
    # Partition date: the column marked P; rows where it is blank fall back to this field.
    partition_fallback: str | None = None
    # JSON exports: the list of records and the declared record count.
    json_records: str = "records"
    json_total: str | None = None
    # Delivery cadence: the span a name declares and which periods must arrive (Cadence).
    cadence: Cadence = "month"
    # Rules between the rows of one file (`Consistency`): the field naming each row's figure,
    # the field whose value is compared, the cut-off field rows are matched on, the rules.
    consistency: tuple[Consistency, ...] = ()
    consistency_fields: tuple[str, str, str] | None = None

    @property
    def key_fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.columns if c.key)

    @property
    def protection_conditions(self) -> tuple[str, ...]:
        """Fields whose value decides whether a column holds personal data (rule 7); none
        for a source without natural persons."""
        return tuple(
            dict.fromkeys(
                [
                    *(w.field for c in self.columns if (w := c.mask_when or c.hash_when)),
                    *(self.person_id_fields if any(c.mask_when for c in self.columns) else ()),
                ]
            )
        )

    @property
    def person_id_fields(self) -> tuple[str, ...]:
        """Identity columns that may hold a resident ID: a valid one there marks the row's
        party as a natural person, whatever type the row declares."""
        return tuple(
            c.field
            for c in self.columns
            if c.check == "resident_id"
            or (c.check_by is not None and "resident_id" in c.check_by[1].values())
        )

    @property
    def partition_field(self) -> str:
        return next(c.field for c in self.columns if c.partition)

    @property
    def extension(self) -> str:
        return self.format

    def column(self, field_name: str) -> Column:
        return next(c for c in self.columns if c.field == field_name)


def enum(header: str, field_name: str, *values: str, **kw: object) -> Column:
    return Column(header, field_name, "enum", values=values, **kw)  # type: ignore[arg-type]


def boolean(header: str, field_name: str, **kw: object) -> Column:
    return Column(header, field_name, "bool", values=("是", "否"), **kw)  # type: ignore[arg-type]


REGISTRATION = Source(
    code="registration",
    area="licensing",
    label="经营主体登记业务明细",
    file_stem="经营主体登记业务明细",
    format="csv",
    encodings=("gb18030", "utf-8"),
    columns=(
        Column("业务流水号", "txn_id", key=True),
        Column("统一社会信用代码", "uscc", required=True, check="uscc"),
        Column("主体名称", "entity_name", required=True),
        enum("主体类型", "entity_type", "企业", "个体工商户", "农民专业合作社"),
        enum(
            "业务类型",
            "txn_type",
            "设立登记",
            "变更登记",
            "注销登记",
            "迁入登记",
            "迁出登记",
            "备案",
        ),
        enum(
            "办理渠道",
            "channel",
            "网上办理",
            "窗口办理",
            synonyms={
                "全程网办": "网上办理",
                "网办": "网上办理",
                "现场办理": "窗口办理",
                "窗口": "窗口办理",
            },
        ),
        Column("申请日期", "applied_on", "date", required=True),
        Column(
            "核准日期",
            "approved_on",
            "date",
            partition=True,
            required=True,
            not_before="applied_on",
        ),
        Column("登记机关", "authority"),
        Column("所属镇街", "subdistrict"),
    ),
)

FOOD_LICENSE = Source(
    code="food_license",
    area="licensing",
    label="食品经营许可办件明细",
    file_stem="食品经营许可办件明细",
    format="xlsx",
    sheet="办件明细",
    header_row=3,
    columns=(
        Column("办件编号", "case_no", key=True),
        Column(
            "许可证编号",
            "license_no",
            pattern=r"JY\d{14}",
            required_when=When.of("outcome", "准予许可"),
        ),
        Column("经营者名称", "operator_name", required=True),
        enum("申请事项", "matter", "新办", "变更", "延续", "补发", "注销"),
        boolean("含保健食品销售", "health_food"),
        Column("受理日期", "accepted_on", "date", required=True),
        Column(
            "办结日期",
            "concluded_on",
            "date",
            partition=True,
            required=True,
            not_before="accepted_on",
        ),
        enum("办理结果", "outcome", "准予许可", "不予许可", "申请人撤回"),
    ),
)

SPECIAL_EQUIPMENT = Source(
    code="special_equipment",
    area="licensing",
    label="特种设备使用登记",
    file_stem="特种设备使用登记",
    format="json",
    json_records="records",
    json_total="total",
    partition_fallback="applied_on",
    columns=(
        Column("regNo", "reg_no", key=True),
        Column("equipCode", "equipment_code", required=True),
        enum(
            "equipCategory",
            "category",
            "电梯",
            "锅炉",
            "压力容器",
            "压力管道",
            "起重机械",
            "场(厂)内专用机动车辆",
            "大型游乐设施",
            "客运索道",
        ),
        Column("useUnit", "user_unit", required=True),
        Column("unitCount", "units", "int", required=True, minimum=1, maximum=500),
        enum("approvalStatus", "status", "受理", "审核", "核准", "退回"),
        Column("applyDate", "applied_on", "epoch_ms_date", required=True),
        Column(
            "approveDate",
            "decided_on",
            "epoch_ms_date",
            partition=True,
            required_when=When.of("status", "核准", "退回"),
            blank_otherwise=True,
            not_before="applied_on",
        ),
    ),
)

MEDICAL_DEVICE = Source(
    code="medical_device",
    area="licensing",
    label="第三类医疗器械经营许可",
    file_stem="医疗器械经营许可",
    format="csv",
    encodings=("utf-8",),
    columns=(
        Column("受理号", "acceptance_no", key=True),
        Column("企业名称", "company_name", required=True),
        Column("统一社会信用代码", "uscc", required=True, check="uscc"),
        enum("申请类型", "application_type", "新办", "变更", "延续", "注销"),
        enum("经营方式", "trade_mode", "零售", "批发", "批零兼营"),
        Column("受理日期", "accepted_on", "date", partition=True, required=True),
        Column(
            "办结日期",
            "concluded_on",
            "date",
            required_when=When.of("status", "已办结"),
            blank_otherwise=True,
            not_before="accepted_on",
        ),
        enum("办理状态", "status", "已受理", "已办结", "不予受理", "退回补正"),
    ),
)

CASES = Source(
    code="cases",
    area="enforcement",
    label="行政处罚案件",
    file_stem="行政处罚案件",
    format="xlsx",
    sheet="案件列表",
    header_row=1,
    columns=(
        Column("案件编号", "case_no", key=True),
        Column("案件名称", "title", required=True),
        enum(
            "案件类别",
            "category",
            "食品",
            "药品",
            "化妆品",
            "医疗器械",
            "产品质量",
            "特种设备",
            "计量",
            "价格",
            "广告",
            "知识产权",
            "烟草",
            "其他",
        ),
        Column("立案日期", "filed_on", "date", partition=True, required=True),
        Column(
            "结案日期",
            "closed_on",
            "date",
            required_when=When.of("status", "已结案"),
            blank_otherwise=True,
            not_before="filed_on",
        ),
        enum("案件状态", "status", "已立案", "调查中", "已结案", "已撤销"),
        enum("程序类型", "procedure", "一般程序", "简易程序"),
        enum(
            "处罚裁量",
            "discretion",
            "从重",
            "一般",
            "从轻",
            "减轻",
            "免予处罚",
            "不予处罚",
            required_when=When.of("status", "已结案"),
        ),
        Column("罚没金额(元)", "penalty_yuan", "decimal", minimum=0),
        boolean("是否移送公安", "to_police"),
        Column("承办机构", "handling_unit"),
        enum("专项行动", "campaign", *CAMPAIGNS, blank_allowed=True),
        enum("当事人类型", "party_type", "单位", "个人"),
        Column(
            "当事人名称",
            "party_name",
            required=True,
            mask_when=When.of("party_type", "个人"),
            party=True,
        ),
        Column(
            "当事人证件号码",
            "party_id",
            required=True,
            check_by=("party_type", {"单位": "uscc", "个人": "resident_id"}),
            hash_when=When.of("party_type", "个人"),
        ),
    ),
)

INSPECTIONS = Source(
    code="inspections",
    area="enforcement",
    label="监督检查记录",
    file_stem="监督检查记录",
    format="csv",
    encodings=("gb18030",),
    columns=(
        Column("检查记录编号", "record_no", key=True),
        Column("检查对象名称", "target_name", required=True),
        Column("检查对象代码", "target_code", required=True, check="uscc_alphabet"),
        enum(
            "检查对象类型",
            "target_type",
            "药品零售企业",
            "药品使用单位",
            "医疗器械经营企业",
            "医疗器械使用单位",
            "医疗器械生产企业",
            "化妆品经营者",
            "食品经营者",
            "加油站",
            "烧烤店",
            "冻品经营者",
            "烟草零售点",
            "其他",
        ),
        boolean("是否市场主体", "is_market_entity"),
        Column("检查日期", "inspected_on", "date", partition=True, required=True),
        enum("检查方式", "method", "日常检查", "专项检查", "双随机抽查", "联合检查"),
        Column(
            "抽查任务编号",
            "random_task_no",
            required_when=When.of("method", "双随机抽查"),
            blank_otherwise=True,
        ),
        enum("专项行动", "campaign", *CAMPAIGNS, blank_allowed=True),
        Column(
            "行动期次",
            "campaign_round",
            "int",
            minimum=1,
            required_when=When.of("campaign", *CAMPAIGNS),
            blank_otherwise=True,
        ),
        Column("出动人次", "officers", "int", required=True, minimum=0),
        enum("检查结果", "result", "未发现问题", "责令整改", "立案查处"),
    ),
)

IP_STATS = Source(
    code="ip_stats",
    area="ip",
    label="知识产权统计月报",
    file_stem="知识产权统计月报",
    format="csv",
    encodings=("utf-8",),
    monthly=True,
    columns=(
        Column("统计月份", "month", "month", key=True, partition=True),
        Column("地区", "region", key=True),
        Column(
            "专利授权量(本年累计)", "patents_granted_ytd", "int", required=True, minimum=0, ytd=True
        ),
        Column(
            "发明专利授权量(本年累计)",
            "invention_granted_ytd",
            "int",
            required=True,
            minimum=0,
            not_above="patents_granted_ytd",
            ytd=True,
        ),
        Column("有效发明专利量(期末)", "valid_invention_patents", "int", required=True, minimum=0),
        Column("商标有效注册量(期末)", "valid_trademarks", "int", required=True, minimum=0),
        Column("地理标志证明商标(期末)", "gi_trademarks", "int", required=True, minimum=0),
    ),
)

IP_CASES = Source(
    code="ip_cases",
    area="ip",
    label="知识产权案件及线索",
    file_stem="知识产权案件",
    format="csv",
    encodings=("gb18030",),
    cadence="quarter",
    columns=(
        Column("编号", "ref_no", key=True),
        enum("类型", "kind", "专利侵权纠纷", "商标侵权", "假冒专利", "电商平台线索"),
        Column("受理日期", "received_on", "date", partition=True, required=True),
        enum("办理方式", "handling", "行政裁决", "行政处罚", "行政+公证", "线索核查"),
        Column("涉及商标", "trademark"),
        enum("状态", "status", "已立案", "已办结", "不予立案", "核查中"),
    ),
)

IP_PLEDGE = Source(
    code="ip_pledge",
    area="ip",
    label="知识产权质押登记",
    file_stem="知识产权质押登记",
    format="xlsx",
    sheet="质押登记",
    header_row=1,
    cadence="half_year",
    columns=(
        Column("登记号", "reg_no", key=True),
        Column("出质人", "pledgor", required=True, party=True),
        Column("质权人", "pledgee", required=True, party=True),
        enum("质押物类型", "collateral", "专利", "商标", "专利+商标"),
        Column("登记日期", "registered_on", "date", partition=True, required=True),
        Column(
            "质押金额(万元)",
            "amount_wan",
            "decimal",
            required=True,
            minimum=0,
            exclusive_minimum=True,
        ),
    ),
)

# The figures no export holds (shared/spec/manual-figures-2024.json): their codes are those
# of the catalog (metrics/catalog.yaml, source `manual`; a test keeps the two lists equal).
MANUAL_CODES = (
    "legal.adviser_firms",
    "legal.opinions",
    "legal.represented.admin",
    "legal.represented.civil",
    "fairness.new_documents",
    "fairness.joint_opinions",
    "fairness.stock_documents",
    "oversight.procuratorial",
    "oversight.judicial",
    "coop.seminars",
    "random.items.single_dept",
    "random.items.joint",
    "training.seminars",
    "litigation.cases",
    "litigation.cases.first_instance",
    "litigation.cases.second_instance",
    "litigation.concluded",
    "litigation.concluded.judgment_upheld",
    "litigation.concluded.suit_dismissed",
    "litigation.concluded.ruling_upheld",
    "litigation.lost",
    "litigation.appearance_rate",
    "litigation.head_appearance_rate",
    "quality_credit.firms_rated_a",
    "quality_credit.credit_line_yi",
)
MANUAL_RATES = ("litigation.appearance_rate", "litigation.head_appearance_rate")

MANUAL = Source(
    code="manual",
    area="legal",
    label="手工填报指标",
    file_stem="手工填报指标",
    format="xlsx",
    sheet="指标填报",
    header_row=2,  # row 1: how to fill the sheet (bureau-stats template manual)
    cadence="year",
    columns=(
        enum("指标代码", "code", *MANUAL_CODES, key=True),
        Column("截至日期", "as_of", "date", key=True, partition=True),
        Column(
            "数值",
            "value",
            "decimal",
            required=True,
            minimum=0,
            maximum_when=(When.of("code", *MANUAL_RATES), 100),
        ),
        Column("依据文号", "evidence", required=True),
        # Always a person: masked on every row that names a figure (rule 7).
        Column("填报人", "entered_by", required=True, mask_when=When.of("code", *MANUAL_CODES)),
    ),
    consistency_fields=("code", "value", "as_of"),
    consistency=(
        Consistency(
            "litigation.cases = first_instance + second_instance",
            "litigation.cases",
            "eq",
            ("litigation.cases.first_instance", "litigation.cases.second_instance"),
        ),
        Consistency(
            "litigation.concluded = judgment_upheld + suit_dismissed + ruling_upheld",
            "litigation.concluded",
            "eq",
            (
                "litigation.concluded.judgment_upheld",
                "litigation.concluded.suit_dismissed",
                "litigation.concluded.ruling_upheld",
            ),
        ),
        Consistency(
            "litigation.lost <= litigation.concluded",
            "litigation.lost",
            "le",
            ("litigation.concluded",),
        ),
    ),
)

SOURCES: dict[str, Source] = {
    s.code: s
    for s in (
        REGISTRATION,
        FOOD_LICENSE,
        SPECIAL_EQUIPMENT,
        MEDICAL_DEVICE,
        CASES,
        INSPECTIONS,
        IP_STATS,
        IP_CASES,
        IP_PLEDGE,
        MANUAL,
    )
}


# The source names as a closed type: a flow parameter annotated with it is a choice in the
# Prefect UI form, and an unknown name is refused before the flow runs. Built from SOURCES (a
# new source needs nothing here); type checkers see `str`.
if TYPE_CHECKING:
    SourceName = str
else:
    SourceName = Literal[tuple(SOURCES)]


def get_source(code: str) -> Source:
    try:
        return SOURCES[code]
    except KeyError:
        raise KeyError(f"unknown source {code!r}; known: {', '.join(SOURCES)}") from None
