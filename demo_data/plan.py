"""The calibration plan: target figures and how rows are allocated over files and categories.

The generator never decides counts on its own. `build_plan(year, scale)` turns the reference
figures of the 2024 annual report (TARGETS, copied from shared/spec/reference-2024.json) into
one allocation table per source (`SourcePlan.cells`: one line per period and metric-relevant
category, with the number of *counted* rows `n` and, where a metric sums a column, the sum
that rows of the cell must carry). Row builders expand cells into rows and only choose free
attributes (names, codes, dates inside the cell's month, spellings), so every figure is a sum
over cells; `expected_metrics(plan)` computes them from the cells with the definitions of
metrics.md and, at year 2024 scale 1, equals the reference exactly.

Everything the metrics must *not* see is planned separately per file (`FileSpec`): rejected
rows, exact duplicates and superseded first versions are always *extra* rows, never a change
to the counted set. The plan depends on (year, scale) only, never on the seed: the seed
changes spellings, names and codes, not figures.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from connectors.sources import SOURCES
from demo_data.profiles import DEFAULT_PROFILE, multiplier

REFERENCE_YEAR = 2024
REGION = "蓬江区"

# The published 2024 figures (shared/spec/reference-2024.json) and the as-of date of each.
# campaign.tobacco.officers is published as "20多" (a range 21..29): the plan uses 24.
TARGETS: dict[str, tuple[int | str, str]] = {
    "reg.establish": (20071, "2024-12-31"),
    "reg.establish.online": (20025, "2024-12-31"),
    "reg.establish.online_share": ("99.77", "2024-12-31"),
    "reg.change": (14107, "2024-12-31"),
    "reg.change.online": (5248, "2024-12-31"),
    "reg.migrate_in": (535, "2024-12-31"),
    "food.issued": (5241, "2024-12-31"),
    "food.issued.new": (3985, "2024-12-31"),
    "food.issued.change": (812, "2024-12-31"),
    "food.issued.reissue": (7, "2024-12-31"),
    "food.issued.renewal": (437, "2024-12-31"),
    "food.cancelled": (3195, "2024-12-31"),
    "seq.approved_units": (3563, "2024-12-31"),
    "device.accepted": (138, "2024-12-31"),
    "cases.filed": (963, "2024-12-27"),
    "cases.to_police": (3, "2024-12-31"),
    "cases.closed.food": (321, "2024-12-31"),
    "cases.closed.drug_cosmetic_device": (84, "2024-12-31"),
    "cases.closed.quality": (81, "2024-12-31"),
    "cases.closed.special_equipment": (43, "2024-12-31"),
    "cases.mitigated": (133, "2024-12-31"),
    "cases.exempted": (143, "2024-12-31"),
    "cases.tobacco": (24, "2024-12-31"),
    "cases.tobacco.general": (4, "2024-12-31"),
    "cases.frozen_goods": (3, "2024-12-31"),
    "insp.drug_retail": (589, "2024-12-31"),
    "insp.drug_user": (143, "2024-12-31"),
    "insp.device_trade": (571, "2024-12-31"),
    "insp.device_user": (143, "2024-12-31"),
    "insp.device_maker": (4, "2024-12-31"),
    "random.tasks": (40, "2024-12-31"),
    "random.market_entities": (1041, "2024-12-31"),
    "random.non_market_entities": (9, "2024-12-31"),
    "campaign.fuel.rounds": (5, "2024-12-31"),
    "campaign.fuel.officers": (35, "2024-12-31"),
    "campaign.fuel.sites": (10, "2024-12-31"),
    "campaign.tobacco.rounds": (4, "2024-12-31"),
    "campaign.tobacco.officers": (24, "2024-12-31"),
    "campaign.bbq.rounds": (6, "2024-12-31"),
    "campaign.bbq.officers": (30, "2024-12-31"),
    "campaign.bbq.sites": (16, "2024-12-31"),
    "campaign.frozen.rounds": (2, "2024-12-31"),
    "ip.patents_granted": (2585, "2024-10-31"),
    "ip.valid_invention": (1955, "2024-10-31"),
    "ip.valid_invention.yoy": ("25.08", "2024-10-31"),
    "ip.valid_trademarks": (33196, "2024-10-31"),
    "ipcase.patent_dispute": (17, "2024-12-31"),
    "ipcase.trademark": (7, "2024-12-31"),
    "ipcase.counterfeit_patent": (3, "2024-12-31"),
    "ipcase.ecommerce_leads": (23, "2024-12-31"),
    "pledge.count": (88, "2024-12-31"),
    "pledge.amount_yi": ("25.17", "2024-12-31"),
}

# ---------------------------------------------------------------------------------------------
# Year volumes at scale 1 (2024). Figures with a reference are the reference; the rest are the
# plausible free parts a district's exports also hold (withdrawals, refusals, pending work).

# Seasonality of business volume: Spring Festival in February, Golden Week in October.
MONTH_WEIGHTS = np.array([8.6, 5.6, 9.4, 8.5, 8.3, 8.7, 8.5, 8.4, 8.0, 7.4, 8.9, 9.7])

# registration: txn_type -> (rows, of which 网上办理).
REGISTRATION_YEAR = {
    "设立登记": (20071, 20025),
    "变更登记": (14107, 5248),
    "迁入登记": (535, 331),
    "注销登记": (7196, 6121),
    "迁出登记": (418, 240),
    "备案": (3104, 2855),
}

# food_license: (matter, outcome) -> rows.
FOOD_YEAR = {
    ("新办", "准予许可"): 3985,
    ("变更", "准予许可"): 812,
    ("补发", "准予许可"): 7,
    ("延续", "准予许可"): 437,
    ("注销", "准予许可"): 3195,
    ("新办", "不予许可"): 96,
    ("变更", "不予许可"): 11,
    ("延续", "不予许可"): 6,
    ("新办", "申请人撤回"): 58,
    ("变更", "申请人撤回"): 9,
    ("注销", "申请人撤回"): 14,
}

# special_equipment approvals: category -> (rows, units); units sum to seq.approved_units.
EQUIPMENT_APPROVED = {
    "电梯": (1796, 1796),
    "压力容器": (612, 1001),
    "起重机械": (203, 297),
    "场(厂)内专用机动车辆": (121, 242),
    "压力管道": (38, 204),
    "锅炉": (11, 13),
    "大型游乐设施": (3, 10),
}
EQUIPMENT_OTHER = {"退回": 96, "受理": 40, "审核": 62}  # 受理/审核 are pending: no decision date

# medical_device: status -> rows (all but 不予受理 count in device.accepted).
DEVICE_YEAR = {"已办结": 113, "已受理": 14, "退回补正": 11, "不予受理": 7}

# ip_cases: (kind, status) -> rows.
IP_CASES_YEAR = {
    ("专利侵权纠纷", "已立案"): 6,
    ("专利侵权纠纷", "已办结"): 11,
    ("专利侵权纠纷", "不予立案"): 2,
    ("商标侵权", "已立案"): 2,
    ("商标侵权", "已办结"): 5,
    ("商标侵权", "不予立案"): 1,
    ("假冒专利", "已办结"): 3,
    ("电商平台线索", "核查中"): 9,
    ("电商平台线索", "已办结"): 14,
}

# ip_pledge: rows and the exact sum of amounts (万元, in cents); 251,703.58 万元 = 25.17 亿元.
PLEDGE_ROWS = 88
PLEDGE_CENTS = 25_170_358
PLEDGE_COLLATERAL = {"专利": 0.5, "商标": 0.25, "专利+商标": 0.25}

# cases: counted rows are filed up to 12-27 (cases.filed is as of 2024-12-27), status ≠ 已撤销.
CASES_FILED = 963
CASES_LATE = 9  # filed 12-28..12-31: in the year, not in the as-of-12-27 figure
CASES_REVOKED = 14  # 已撤销: never counted
# Closed (已结案, closed in the year) per category, and still open (已立案/调查中).
CASES_CLOSED = {
    "食品": 321,
    "药品": 38,
    "化妆品": 21,
    "医疗器械": 25,
    "产品质量": 81,
    "特种设备": 43,
    "烟草": 22,
    "计量": 34,
    "价格": 41,
    "广告": 38,
    "知识产权": 22,
    "其他": 95,
}
CASES_OPEN = {
    "食品": 70,
    "药品": 12,
    "化妆品": 6,
    "医疗器械": 8,
    "产品质量": 22,
    "特种设备": 10,
    "烟草": 2,
    "计量": 8,
    "价格": 10,
    "广告": 10,
    "知识产权": 6,
    "其他": 18,
}
# Discretion of the closed cases (减轻 and 免予处罚 are report figures).
CASES_DISCRETION = {"减轻": 133, "免予处罚": 143, "不予处罚": 21, "从重": 9, "从轻": 118}
CASES_SIMPLE_SHARE = 0.15  # 简易程序 among closed cases outside the campaigns

# inspections: rows per target_type in the year.
INSPECTION_TYPES = {
    "药品零售企业": 589,
    "药品使用单位": 143,
    "医疗器械经营企业": 571,
    "医疗器械使用单位": 143,
    "医疗器械生产企业": 4,
    "化妆品经营者": 318,
    "食品经营者": 1724,
    "加油站": 36,
    "烧烤店": 58,
    "冻品经营者": 39,
    "烟草零售点": 47,
    "其他": 262,
}
# Campaigns: (campaign, target_type, method, month of each round, rows per round, officers).
CAMPAIGN_PLAN = (
    ("加油机作弊专项", "加油站", "专项检查", (3, 5, 7, 9, 11), (2, 2, 2, 2, 2), (7, 7, 7, 7, 7)),
    ("无证经营烟草专项", "烟草零售点", "专项检查", (4, 6, 8, 10), (2, 2, 2, 2), (6, 6, 6, 6)),
    (
        "烧烤餐饮安全整治",
        "烧烤店",
        "专项检查",
        (5, 6, 7, 8, 9, 10),
        (3, 3, 3, 3, 2, 2),
        (6, 6, 5, 5, 4, 4),
    ),
    ("冻品走私联合检查", "冻品经营者", "联合检查", (6, 11), (3, 3), (12, 9)),
)
# 双随机 tasks per target type: (tasks, market first visits, market repeat visits,
# non-market first visits, non-market repeat visits). First visits are distinct entities.
RANDOM_TASKS = {
    "食品经营者": (14, 430, 12, 0, 0),
    "药品零售企业": (7, 190, 6, 0, 0),
    "医疗器械经营企业": (7, 185, 5, 0, 0),
    "化妆品经营者": (6, 150, 4, 0, 0),
    "其他": (3, 56, 0, 1, 0),
    "医疗器械使用单位": (2, 20, 0, 5, 1),
    "药品使用单位": (1, 10, 0, 3, 0),
}
RANDOM_MONTHS = (3, 11)  # tasks run from March to November
DAILY_METHODS = {"日常检查": 0.82, "专项检查": 0.12, "联合检查": 0.06}
NON_MARKET_SHARE = {"药品使用单位": 0.55, "医疗器械使用单位": 0.55, "其他": 0.08}

# ip_stats anchors (month -> value) for the configured district; other months interpolate.
IP_REGIONS = ("江门市", "蓬江区", "江海区", "新会区")


@dataclass(frozen=True)
class FileSpec:
    """One export file to write, with the quirks planned for it."""

    source: str
    start: date
    end: date
    version: int = 1
    superseded: bool = False  # a later version of the same period follows
    encoding: str = "utf-8"  # csv: gb18030 | utf-8-sig | utf-8
    duplicates: int = 0  # extra exact copies of counted rows
    rejects: tuple[str, ...] = ()  # one extra row per reason (conflicting_key: two rows)
    blank_lines: int = 0
    footer: bool = False  # xlsx: a 合计/总计 row after the data
    month_style: str = "iso"  # ip_stats: how 统计月份 is spelled in this file

    @property
    def relative(self) -> str:
        src = SOURCES[self.source]
        suffix = f"_v{self.version}" if self.version > 1 else ""
        if src.monthly:
            stamp = f"{self.start:%Y%m}"
        else:
            stamp = f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"
        return f"{self.source}/{src.file_stem}_{stamp}{suffix}.{src.extension}"

    @property
    def reject_rows(self) -> int:
        return sum(2 if r == "conflicting_key" else 1 for r in self.rejects)

    @property
    def key(self) -> str:
        """The cells of a file are selected by its period start (`period` column)."""
        return f"{self.start:%Y-%m-%d}"


@dataclass
class SourcePlan:
    source: str
    files: list[FileSpec]
    # One line per (period, category…): `period` (file period start, ISO), `month` (event
    # month 1..12 of the partition date), category columns, `n` counted rows, optional sums.
    cells: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def cells_for(self, spec: FileSpec) -> pd.DataFrame:
        return self.cells[self.cells["period"] == spec.key].reset_index(drop=True)


@dataclass
class Plan:
    year: int
    scale: float
    volume: float  # scale x year growth; the plan is calibrated when year=2024 and scale=1
    sources: dict[str, SourcePlan]
    profile: str = DEFAULT_PROFILE

    @property
    def calibrated(self) -> bool:
        return self.year == REFERENCE_YEAR and self.scale == 1 and self.profile == DEFAULT_PROFILE

    @property
    def files(self) -> list[FileSpec]:
        return [f for sp in self.sources.values() for f in sp.files]

    def counted_rows(self) -> dict[str, int]:
        return {code: int(sp.cells["n"].sum()) for code, sp in self.sources.items()}


# ---------------------------------------------------------------------------------------------
# Allocation helpers (pure, deterministic).


def allocate(total: int, weights: np.ndarray | list[float]) -> np.ndarray:
    """Split an integer total over weights exactly (largest remainder, ties to the first)."""
    w = np.asarray(weights, dtype=float)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=np.int64)
    raw = w / w.sum() * total
    base = np.floor(raw).astype(np.int64)
    rest = total - int(base.sum())
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:rest]] += 1
    return base


def scaled(x: float, volume: float) -> int:
    """Round half up so the plan never depends on banker's rounding."""
    return int(Decimal(str(x * volume)).quantize(Decimal(1), ROUND_HALF_UP))


def growth(year: int) -> float:
    """Other years get the 2024 volumes grown or shrunk by 5 % a year."""
    return 1.05 ** (year - REFERENCE_YEAR)


def month_start(year: int, month: int) -> date:
    return date(year, month, 1)


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Cells in a frame; cells with n = 0 are kept (they describe the categories)."""
    return pd.DataFrame.from_records(records, columns=columns)


def _rng(year: int, scale: float, salt: int) -> np.random.Generator:
    """The plan's own randomness: fixed per (year, scale), independent of the seed."""
    return np.random.default_rng([year, int(round(scale * 1000)), salt, 20240101])


def _cap_rejects(rejects: tuple[str, ...], rows: int, share: float = 0.03) -> tuple[str, ...]:
    """Keep the planned rejects only while they stay far below the 5 % quarantine threshold."""
    kept: list[str] = []
    used = 0
    for r in rejects:
        cost = 2 if r == "conflicting_key" else 1
        if (used + cost) <= share * (rows + used + cost):
            kept.append(r)
            used += cost
    return tuple(kept)


def _quirk_count(k: int, scale: float) -> int:
    return k * max(1, int(round(scale))) if scale >= 1 else k


def _monthly_files(
    source: str,
    year: int,
    counts: np.ndarray,
    scale: float,
    *,
    encoding: dict[int, str] | None = None,
    rejects: dict[int, tuple[str, ...]] | None = None,
    duplicates: dict[int, int] | None = None,
    blank_lines: dict[int, int] | None = None,
    footer_months: set[int] | None = None,
) -> list[FileSpec]:
    files = []
    for m in range(1, 13):
        rows = int(counts[m - 1])
        dups = _quirk_count((duplicates or {}).get(m, 0), scale)
        planned = tuple((rejects or {}).get(m, ()))
        reasons = planned * (max(1, int(round(scale))) if scale >= 1 else 1)
        files.append(
            FileSpec(
                source=source,
                start=month_start(year, m),
                end=month_end(year, m),
                encoding=(encoding or {}).get(m, "utf-8"),
                duplicates=min(dups, rows),
                rejects=_cap_rejects(reasons, rows + dups),
                blank_lines=_quirk_count((blank_lines or {}).get(m, 0), 1),
                footer=m in (footer_months or set()),
            )
        )
    return files


def _with_correction(files: list[FileSpec], month: int, **v2: Any) -> list[FileSpec]:
    """Deliver month `month` twice: the first version superseded by a `_v2` correction."""
    out: list[FileSpec] = []
    for f in files:
        if f.start.month == month:
            out.append(replace(f, superseded=True, rejects=(), duplicates=0))
            out.append(replace(f, version=2, **v2))
        else:
            out.append(f)
    return out


# ---------------------------------------------------------------------------------------------
# Per-source plans.


def plan_registration(year: int, scale: float, volume: float) -> SourcePlan:
    records = []
    for txn_type, (total, online) in REGISTRATION_YEAR.items():
        on = allocate(scaled(online, volume), MONTH_WEIGHTS)
        off = allocate(scaled(total, volume) - scaled(online, volume), MONTH_WEIGHTS)
        for m in range(1, 13):
            for channel, n in (("网上办理", on[m - 1]), ("窗口办理", off[m - 1])):
                records.append(
                    {
                        "period": f"{year}-{m:02d}-01",
                        "month": m,
                        "txn_type": txn_type,
                        "channel": channel,
                        "n": int(n),
                    }
                )
    cells = _frame(records, ["period", "month", "txn_type", "channel", "n"])
    counts = cells.groupby("month")["n"].sum().reindex(range(1, 13), fill_value=0).to_numpy()
    files = _monthly_files(
        "registration",
        year,
        counts,
        scale,
        # The current system exports GB18030; the first quarter came from the old one (BOM).
        encoding={m: ("utf-8-sig" if m <= 3 else "gb18030") for m in range(1, 13)},
        rejects={
            1: ("bad_check_digit",),
            3: ("bad_date", "out_of_period"),
            4: ("bad_enum",),
            6: ("missing_required", "conflicting_key"),
            8: ("rule_violation",),
            9: ("bad_check_digit", "bad_date"),
            11: ("out_of_period",),
            12: ("bad_enum", "missing_required"),
        },
        duplicates={2: 3, 5: 6, 7: 2, 10: 4, 12: 2},
        blank_lines={1: 1, 4: 2, 9: 1, 12: 1},
    )
    # March was re-delivered by the new system: the _v2 (GB18030) is the one that counts.
    files = _with_correction(files, 3, encoding="gb18030")
    return SourcePlan("registration", files, cells)


def plan_food_license(year: int, scale: float, volume: float) -> SourcePlan:
    records = []
    for (matter, outcome), total in FOOD_YEAR.items():
        alloc = allocate(scaled(total, volume), MONTH_WEIGHTS)
        for m in range(1, 13):
            records.append(
                {
                    "period": f"{year}-{m:02d}-01",
                    "month": m,
                    "matter": matter,
                    "outcome": outcome,
                    "n": int(alloc[m - 1]),
                }
            )
    cells = _frame(records, ["period", "month", "matter", "outcome", "n"])
    counts = cells.groupby("month")["n"].sum().reindex(range(1, 13), fill_value=0).to_numpy()
    files = _monthly_files(
        "food_license",
        year,
        counts,
        scale,
        rejects={
            3: ("bad_date",),
            7: ("bad_enum",),
            10: ("missing_required", "rule_violation"),
            12: ("out_of_period",),
        },
        duplicates={4: 2, 8: 3},
        blank_lines={6: 1},
        footer_months={1, 3, 4, 5, 6, 7, 8, 10, 11, 12},
    )
    return SourcePlan("food_license", files, cells)


def plan_special_equipment(year: int, scale: float, volume: float) -> SourcePlan:
    records = []
    for category, (rows, units) in EQUIPMENT_APPROVED.items():
        n_rows = scaled(rows, volume)
        n_units = max(n_rows, scaled(units, volume))
        per_month = allocate(n_rows, MONTH_WEIGHTS)
        extra = allocate(n_units - n_rows, per_month.astype(float))
        for m in range(1, 13):
            records.append(
                {
                    "period": f"{year}-{m:02d}-01",
                    "month": m,
                    "status": "核准",
                    "category": category,
                    "n": int(per_month[m - 1]),
                    "units": int(per_month[m - 1] + extra[m - 1]),
                }
            )
    cat_share = np.array([r for r, _ in EQUIPMENT_APPROVED.values()], dtype=float)
    cats = list(EQUIPMENT_APPROVED)
    # Pending applications pile up in the last export of the year.
    pending = MONTH_WEIGHTS.copy()
    pending[-1] *= 4
    for status, total in EQUIPMENT_OTHER.items():
        per_month = allocate(scaled(total, volume), pending if status != "退回" else MONTH_WEIGHTS)
        for m in range(1, 13):
            for category, n in zip(cats, allocate(int(per_month[m - 1]), cat_share), strict=True):
                records.append(
                    {
                        "period": f"{year}-{m:02d}-01",
                        "month": m,
                        "status": status,
                        "category": category,
                        "n": int(n),
                        "units": -1,  # free: no metric sums them
                    }
                )
    cells = _frame(records, ["period", "month", "status", "category", "n", "units"])
    counts = cells.groupby("month")["n"].sum().reindex(range(1, 13), fill_value=0).to_numpy()
    files = _monthly_files(
        "special_equipment",
        year,
        counts,
        scale,
        rejects={
            1: ("bad_enum",),
            6: ("missing_required",),
            9: ("out_of_period",),
            12: ("out_of_period",),
        },
        duplicates={5: 1, 11: 2},
    )
    return SourcePlan("special_equipment", files, cells)


def plan_medical_device(year: int, scale: float, volume: float) -> SourcePlan:
    records = []
    late = MONTH_WEIGHTS * np.linspace(0.3, 3.0, 12)  # still open: mostly recent applications
    for status, total in DEVICE_YEAR.items():
        alloc = allocate(scaled(total, volume), late if status == "已受理" else MONTH_WEIGHTS)
        for m in range(1, 13):
            records.append(
                {
                    "period": f"{year}-{m:02d}-01",
                    "month": m,
                    "status": status,
                    "n": int(alloc[m - 1]),
                }
            )
    cells = _frame(records, ["period", "month", "status", "n"])
    counts = cells.groupby("month")["n"].sum().reindex(range(1, 13), fill_value=0).to_numpy()
    files = _monthly_files(
        "medical_device",
        year,
        counts,
        scale,
        # UTF-8 with BOM, but two months came without it.
        encoding={m: ("utf-8" if m in (5, 10) else "utf-8-sig") for m in range(1, 13)},
        duplicates={8: 1},
    )
    return SourcePlan("medical_device", files, cells)


def _exact_pick(
    rng: np.random.Generator, candidates: np.ndarray, k: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """k distinct positions among `candidates` (optionally weighted)."""
    k = min(k, len(candidates))
    if k <= 0:
        return np.array([], dtype=np.int64)
    p = None if weights is None else weights / weights.sum()
    return rng.choice(candidates, size=k, replace=False, p=p)


def plan_cases(year: int, scale: float, volume: float) -> SourcePlan:
    """Row skeleton with exact counts per attribute, collapsed into cells."""
    rng = _rng(year, scale, 5)
    v = volume
    closed = {c: scaled(n, v) for c, n in CASES_CLOSED.items()}
    open_ = {c: scaled(n, v) for c, n in CASES_OPEN.items()}
    tobacco_general = scaled(4, v)
    tobacco_total = scaled(24, v)
    frozen = scaled(3, v)
    police = scaled(3, v)
    # Tobacco cases all come from the campaign: 简易 ones are closed on the spot.
    closed["烟草"] = tobacco_total - min(open_["烟草"], tobacco_general)
    open_["烟草"] = tobacco_total - closed["烟草"]
    if sum(closed.values()) + sum(open_.values()) == 0:
        open_["食品"] = 1  # a tiny scale still files one case
    n_closed = sum(closed.values())
    n_open = sum(open_.values())
    filed = n_closed + n_open

    # Filing months (counted rows: December only up to the 27th).
    w = MONTH_WEIGHTS.copy()
    w[-1] *= 27 / 31
    months = np.repeat(np.arange(1, 13), allocate(filed, w))
    # Open cases are the recent ones: pick them with weights rising through the year.
    open_pos = _exact_pick(rng, np.arange(filed), n_open, (months / 12.0) ** 4)
    is_open = np.zeros(filed, dtype=bool)
    is_open[open_pos] = True

    sk = pd.DataFrame({"month": months, "late": False})
    sk["status"] = np.where(is_open, "调查中", "已结案")
    cat = np.empty(filed, dtype=object)
    cat[~is_open] = rng.permutation(np.repeat(list(closed), list(closed.values())))
    cat[is_open] = rng.permutation(np.repeat(list(open_), list(open_.values())))
    sk["category"] = cat
    # Half of the open cases are only filed (已立案), the rest under investigation.
    open_idx = np.flatnonzero(is_open)
    sk.loc[_exact_pick(rng, open_idx, len(open_idx) // 2), "status"] = "已立案"

    sk["procedure"] = "一般程序"
    sk["campaign"] = ""
    sk["to_police"] = "否"
    sk["discretion"] = ""
    tob = np.flatnonzero(sk["category"].to_numpy() == "烟草")
    sk.loc[tob, "campaign"] = "无证经营烟草专项"
    tob_open = tob[is_open[tob]]
    tob_closed = tob[~is_open[tob]]
    general = np.concatenate(
        [tob_open, _exact_pick(rng, tob_closed, tobacco_general - len(tob_open))]
    )
    simple = np.setdiff1d(tob, general)
    sk.loc[simple, "procedure"] = "简易程序"
    food_idx = np.flatnonzero(sk["category"].to_numpy() == "食品")
    frozen_idx = _exact_pick(rng, food_idx, frozen)
    sk.loc[frozen_idx, "campaign"] = "冻品走私联合检查"
    # A few closed 计量 cases came from the fuel-dispenser campaign (no figure depends on it).
    fuel_idx = np.flatnonzero((sk["category"].to_numpy() == "计量") & ~is_open)
    sk.loc[_exact_pick(rng, fuel_idx, scaled(2, v)), "campaign"] = "加油机作弊专项"
    police_pool = np.flatnonzero(
        np.isin(sk["category"].to_numpy(), ["食品", "药品", "产品质量"]) & (sk["campaign"] == "")
    )
    sk.loc[_exact_pick(rng, police_pool, police), "to_police"] = "是"
    plain_closed = np.flatnonzero(
        ~is_open & (sk["campaign"].to_numpy() == "") & (sk["to_police"].to_numpy() == "否")
    )
    sk.loc[
        _exact_pick(rng, plain_closed, int(round(CASES_SIMPLE_SHARE * len(plain_closed)))),
        "procedure",
    ] = "简易程序"
    closed_idx = np.flatnonzero(~is_open)
    disc = {k: scaled(x, v) for k, x in CASES_DISCRETION.items()}
    disc["一般"] = len(closed_idx) - sum(disc.values())
    sk.loc[closed_idx, "discretion"] = rng.permutation(np.repeat(list(disc), list(disc.values())))

    # Filed 12-28..12-31 (not in the as-of figure) and revoked cases: never counted.
    late = pd.DataFrame(
        {
            "month": 12,
            "late": True,
            "status": "已立案",
            "category": rng.choice(["食品", "产品质量", "价格", "其他"], scaled(CASES_LATE, v)),
            "procedure": "一般程序",
            "campaign": "",
            "to_police": "否",
            "discretion": "",
        }
    )
    revoked = pd.DataFrame(
        {
            "month": rng.integers(1, 13, scaled(CASES_REVOKED, v)),
            "late": False,
            "status": "已撤销",
            "category": rng.choice(
                ["食品", "广告", "价格", "其他", "计量"], scaled(CASES_REVOKED, v)
            ),
            "procedure": "一般程序",
            "campaign": "",
            "to_police": "否",
            "discretion": "",
        }
    )
    sk = pd.concat([sk, late, revoked], ignore_index=True)
    keys = [
        "month",
        "late",
        "status",
        "category",
        "procedure",
        "discretion",
        "to_police",
        "campaign",
    ]
    cells = sk.groupby(keys, sort=True).size().rename("n").reset_index()
    cells.insert(0, "period", [f"{year}-{m:02d}-01" for m in cells["month"]])
    cells["n"] = cells["n"].astype(np.int64)
    counts = cells.groupby("month")["n"].sum().reindex(range(1, 13), fill_value=0).to_numpy()
    files = _monthly_files(
        "cases",
        year,
        counts,
        scale,
        rejects={
            5: ("bad_check_digit",),
            7: ("missing_required",),
            9: ("conflicting_key",),
            11: ("out_of_period",),
            2: ("bad_enum",),
        },
        duplicates={10: 3},
        blank_lines={3: 1},
        footer_months={12},
    )
    # June was corrected: reclassified and late-entered cases; the _v2 counts.
    files = _with_correction(files, 6)
    return SourcePlan("cases", files, cells)


def plan_inspections(year: int, scale: float, volume: float) -> SourcePlan:
    rng = _rng(year, scale, 6)
    v = volume
    records: list[dict[str, Any]] = []

    def add(**kw: Any) -> None:
        base = {
            "period": f"{year}-{kw['month']:02d}-01",
            "is_market": "是",
            "method": "日常检查",
            "task_no": "",
            "campaign": "",
            "round": 0,
            "visit": "",
            "entity_start": -1,
            "entity_block": 0,
            "officers": -1,
        }
        base.update(kw)
        records.append(base)

    used = {t: 0 for t in INSPECTION_TYPES}
    # Campaign rounds: fixed rounds, rows and officers scale with the volume.
    for campaign, ttype, method, months, rows, officers in CAMPAIGN_PLAN:
        for rnd, (m, r, o) in enumerate(zip(months, rows, officers, strict=True), start=1):
            n = max(1, scaled(r, v))
            add(
                month=m,
                target_type=ttype,
                method=method,
                campaign=campaign,
                round=rnd,
                n=n,
                officers=max(n, scaled(o, v)),
            )
            used[ttype] += n

    # 双随机 tasks: each task inspects one kind of target in one month. First visits of a
    # task are entities never drawn before (distinct by construction); repeat visits draw
    # again among the first visits of another task of the same kind.
    tasks = []
    for ttype, (n_tasks, *_) in RANDOM_TASKS.items():
        k = max(1, scaled(n_tasks, v))
        for j in range(k):
            tasks.append((ttype, j, k))
    lo, hi = RANDOM_MONTHS
    order = rng.permutation(len(tasks))
    task_month = {}
    for rank, t in enumerate(order):
        task_month[t] = lo + (rank * (hi - lo + 1)) // len(tasks)
    numbered = sorted(range(len(tasks)), key=lambda t: (task_month[t], order.tolist().index(t)))
    task_no = {t: f"SSJ{year}-{i + 1:03d}" for i, t in enumerate(numbered)}
    next_id = {"是": 0, "否": 0}
    by_type: dict[str, list[int]] = {}
    for t, (ttype, _, _) in enumerate(tasks):
        by_type.setdefault(ttype, []).append(t)
    first_blocks: dict[tuple[int, str], tuple[int, int]] = {}
    for ttype, ts in by_type.items():
        _, m_first, m_rep, nm_first, nm_rep = RANDOM_TASKS[ttype]
        for market, first, rep in (("是", m_first, m_rep), ("否", nm_first, nm_rep)):
            firsts = allocate(scaled(first, v), np.ones(len(ts)))
            for t, n in zip(ts, firsts, strict=True):
                if n:
                    first_blocks[(t, market)] = (next_id[market], int(n))
                    add(
                        month=task_month[t],
                        target_type=ttype,
                        is_market=market,
                        method="双随机抽查",
                        task_no=task_no[t],
                        visit="first",
                        entity_start=next_id[market],
                        entity_block=int(n),
                        n=int(n),
                    )
                    used[ttype] += int(n)
                    next_id[market] += int(n)
            reps = scaled(rep, v) if len(ts) > 1 else 0
            for t, n in zip(ts, allocate(reps, np.ones(len(ts))), strict=True):
                source_task = ts[(ts.index(t) + 1) % len(ts)]
                start, block = first_blocks.get((source_task, market), (0, 0))
                n = min(int(n), block)
                if n:
                    add(
                        month=task_month[t],
                        target_type=ttype,
                        is_market=market,
                        method="双随机抽查",
                        task_no=task_no[t],
                        visit="repeat",
                        entity_start=start,
                        entity_block=block,
                        n=n,
                    )
                    used[ttype] += n

    # Everything else is routine work: the rest of each type's total.
    for ttype, total in INSPECTION_TYPES.items():
        rest = max(0, scaled(total, v) - used[ttype])
        nm = int(round(NON_MARKET_SHARE.get(ttype, 0.0) * rest))
        for market, count in (("否", nm), ("是", rest - nm)):
            per_method = allocate(count, np.array(list(DAILY_METHODS.values())))
            for method, c in zip(DAILY_METHODS, per_method, strict=True):
                for m, n in enumerate(allocate(int(c), MONTH_WEIGHTS), start=1):
                    add(month=m, target_type=ttype, is_market=market, method=method, n=int(n))

    columns = [
        "period",
        "month",
        "target_type",
        "is_market",
        "method",
        "task_no",
        "campaign",
        "round",
        "visit",
        "entity_start",
        "entity_block",
        "officers",
        "n",
    ]
    cells = _frame(records, columns).sort_values(["period", "target_type"], kind="stable")
    cells = cells.reset_index(drop=True)
    counts = cells.groupby("month")["n"].sum().reindex(range(1, 13), fill_value=0).to_numpy()
    files = _monthly_files(
        "inspections",
        year,
        counts,
        scale,
        encoding={m: "gb18030" for m in range(1, 13)},
        rejects={
            3: ("out_of_period",),
            7: ("bad_enum",),
            9: ("missing_required",),
            11: ("bad_check_digit",),
        },
        duplicates={4: 3, 8: 2},
        blank_lines={5: 1, 12: 2},
    )
    return SourcePlan("inspections", files, cells)


def plan_ip_cases(year: int, scale: float, volume: float) -> SourcePlan:
    records = []
    for (kind, status), total in IP_CASES_YEAR.items():
        alloc = allocate(scaled(total, volume), MONTH_WEIGHTS)
        for m in range(1, 13):
            q = (m - 1) // 3
            records.append(
                {
                    "period": f"{year}-{3 * q + 1:02d}-01",
                    "month": m,
                    "kind": kind,
                    "status": status,
                    "n": int(alloc[m - 1]),
                }
            )
    cells = _frame(records, ["period", "month", "kind", "status", "n"])
    files = [
        FileSpec(
            "ip_cases",
            month_start(year, 3 * q + 1),
            month_end(year, 3 * q + 3),
            encoding="gb18030",
            duplicates=1 if q == 1 else 0,
            blank_lines=1 if q == 2 else 0,
        )
        for q in range(4)
    ]
    return SourcePlan("ip_cases", files, cells)


def plan_ip_pledge(year: int, scale: float, volume: float) -> SourcePlan:
    rng = _rng(year, scale, 9)
    rows = max(2, scaled(PLEDGE_ROWS, volume))
    total_cents = scaled(PLEDGE_CENTS, volume)
    months = np.repeat(np.arange(1, 13), allocate(rows, MONTH_WEIGHTS))
    collateral = rng.choice(list(PLEDGE_COLLATERAL), rows, p=list(PLEDGE_COLLATERAL.values()))
    raw = rng.lognormal(mean=0.0, sigma=0.8, size=rows)
    cents = allocate(total_cents, raw)
    cents = np.maximum(cents, 100)  # never below 1 万元
    cents[np.argmax(cents)] -= int(cents.sum()) - total_cents
    sk = pd.DataFrame({"month": months, "collateral": collateral, "amount_cents": cents})
    cells = (
        sk.groupby(["month", "collateral"], sort=True)
        .agg(n=("amount_cents", "size"), amount_cents=("amount_cents", "sum"))
        .reset_index()
    )
    cells.insert(0, "period", [f"{year}-{1 if m <= 6 else 7:02d}-01" for m in cells["month"]])
    files = [
        FileSpec("ip_pledge", month_start(year, 1), month_end(year, 6)),
        FileSpec(
            "ip_pledge",
            month_start(year, 7),
            month_end(year, 12),
            rejects=_cap_rejects(("rule_violation",), int(cells["n"][cells["month"] > 6].sum())),
        ),
    ]
    return SourcePlan("ip_pledge", files, cells)


# ip_stats: anchor values (month index = year*12 + month-1) per region and measure. The
# 蓬江区 anchors are the report figures (2024-10) and the October 2023 stock that gives the
# published year-on-year growth: round_half_up(100 * (1955 / 1563 - 1), 2) = 25.08.
IP_STOCK_ANCHORS = {
    "蓬江区": {
        "valid_invention_patents": {(2023, 1): 1512, (2023, 10): 1563, (2024, 10): 1955},
        "valid_trademarks": {(2023, 1): 30012, (2023, 10): 30861, (2024, 10): 33196},
        "gi_trademarks": {(2023, 1): 2, (2024, 10): 2},
    },
    "江门市": {
        "valid_invention_patents": {(2023, 1): 5011, (2023, 10): 5390, (2024, 10): 5880},
        "valid_trademarks": {(2023, 1): 100402, (2023, 10): 102733, (2024, 10): 106050},
        "gi_trademarks": {(2023, 1): 5, (2024, 10): 5},
    },
    "江海区": {
        "valid_invention_patents": {(2023, 1): 601, (2023, 10): 647, (2024, 10): 703},
        "valid_trademarks": {(2023, 1): 12009, (2023, 10): 12357, (2024, 10): 12711},
        "gi_trademarks": {(2023, 1): 1, (2024, 10): 1},
    },
    "新会区": {
        "valid_invention_patents": {(2023, 1): 1001, (2023, 10): 1073, (2024, 10): 1172},
        "valid_trademarks": {(2023, 1): 20055, (2023, 10): 20519, (2024, 10): 21081},
        "gi_trademarks": {(2023, 1): 1, (2024, 10): 1},
    },
}
# Patents granted in a year (all kinds, of which invention), and the Jan..Oct total of 2024.
IP_FLOW = {
    "蓬江区": (3080, 0.19, {2024: 2585}),
    "江门市": (8900, 0.2, {}),
    "江海区": (1050, 0.19, {}),
    "新会区": (1620, 0.19, {}),
}


def _stock(region: str, measure: str, year: int, month: int) -> int:
    anchors = IP_STOCK_ANCHORS[region][measure]
    xs = np.array([y * 12 + m - 1 for y, m in anchors], dtype=float)
    ys = np.array(list(anchors.values()), dtype=float)
    x = year * 12 + month - 1
    if x <= xs[0]:
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        return max(0, int(round(ys[0] + slope * (x - xs[0]))))
    if x >= xs[-1]:
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        return int(round(ys[-1] + slope * (x - xs[-1])))
    return int(round(float(np.interp(x, xs, ys))))


def _flows(region: str, year: int) -> tuple[np.ndarray, np.ndarray]:
    """Year-to-date patents and invention patents for the 12 months of `year`."""
    annual, invention_share, oct_totals = IP_FLOW[region]
    yearly = annual * growth(year)
    w = MONTH_WEIGHTS
    if year in oct_totals:
        first10 = allocate(oct_totals[year], w[:10])
        last2 = allocate(int(round(yearly)) - oct_totals[year], w[10:])
        per_month = np.concatenate([first10, last2])
    else:
        per_month = allocate(int(round(yearly)), w)
    inv = np.floor(per_month * invention_share).astype(np.int64)
    return np.cumsum(per_month), np.cumsum(inv)


def ip_stats_rows(year: int) -> pd.DataFrame:
    """The monthly statistics of `year` for every region (one row per month and region)."""
    rows = []
    for region in IP_REGIONS:
        ytd, inv = _flows(region, year)
        for m in range(1, 13):
            rows.append(
                {
                    "period": f"{year}-{m:02d}-01",
                    "month": m,
                    "region": region,
                    "patents_granted_ytd": int(ytd[m - 1]),
                    "invention_granted_ytd": int(inv[m - 1]),
                    "valid_invention_patents": _stock(region, "valid_invention_patents", year, m),
                    "valid_trademarks": _stock(region, "valid_trademarks", year, m),
                    "gi_trademarks": _stock(region, "gi_trademarks", year, m),
                    "year": year,
                    "n": 1,
                }
            )
    return pd.DataFrame(rows)


def plan_ip_stats(year: int, scale: float, volume: float) -> SourcePlan:
    """Statistics of the year and of the year before (for the year-on-year figure).

    Pre-aggregated figures: they do not scale with the volume of the other sources.
    """
    cells = pd.concat([ip_stats_rows(year - 1), ip_stats_rows(year)], ignore_index=True)
    styles = ("iso", "iso_short", "slash", "chinese")
    files = []
    for y in (year - 1, year):
        for m in range(1, 13):
            spec = FileSpec(
                "ip_stats",
                month_start(y, m),
                month_end(y, m),
                encoding="utf-8-sig" if m % 3 == 0 else "utf-8",
                month_style=styles[(y * 12 + m) % len(styles)],
            )
            if y == year and m == 10:
                # October was re-issued with a corrected trademark figure.
                files.append(replace(spec, superseded=True))
                files.append(replace(spec, version=2))
            else:
                files.append(spec)
    return SourcePlan("ip_stats", files, cells)


PLANNERS = {
    "registration": plan_registration,
    "food_license": plan_food_license,
    "special_equipment": plan_special_equipment,
    "medical_device": plan_medical_device,
    "cases": plan_cases,
    "inspections": plan_inspections,
    "ip_stats": plan_ip_stats,
    "ip_cases": plan_ip_cases,
    "ip_pledge": plan_ip_pledge,
}


def build_plan(
    year: int = REFERENCE_YEAR, scale: float = 1.0, profile: str = DEFAULT_PROFILE
) -> Plan:
    """The allocation for one year at one scale (see the module docstring); a volume
    `profile` (demo_data.profiles) plans each source as if at its own multiple of the scale."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    volume = scale * growth(year)
    sources = {}
    for code in PLANNERS:
        k = multiplier(profile, code)
        sources[code] = _never_empty(PLANNERS[code](year, scale * k, volume * k))
    return Plan(year=year, scale=scale, volume=volume, sources=sources, profile=profile)


SUM_COLUMNS = ("units", "officers", "amount_cents")


def _never_empty(sp: SourcePlan) -> SourcePlan:
    """At tiny scales a period may get no row; a file without data rows is quarantined as
    empty, so such a period gets one row of the source's commonest routine cell."""
    cells = sp.cells
    routine = cells
    for col, blank in (("campaign", ""), ("visit", ""), ("late", False)):
        if col in routine.columns:
            routine = routine[routine[col] == blank]
    if "status" in routine.columns and sp.source == "cases":
        routine = (
            routine[routine["status"] == "调查中"]
            if (routine["status"] == "调查中").any()
            else routine
        )
    if routine.empty:
        routine = cells
    template = routine.loc[routine["n"].idxmax()]
    extra = []
    for spec in sp.files:
        if cells.loc[cells["period"] == spec.key, "n"].sum() > 0:
            continue
        row = template.copy()
        row["period"] = spec.key
        row["month"] = spec.start.month
        for col in SUM_COLUMNS:
            if col in row.index and row[col] > 0:
                row[col] = max(1, int(row[col]) // int(template["n"]))
        row["n"] = 1
        extra.append(row)
    if extra:
        sp.cells = pd.concat([cells, pd.DataFrame(extra)], ignore_index=True)
    return sp


# ---------------------------------------------------------------------------------------------
# The figures the plan implies (metrics.md definitions applied to the cells).


def _half_up(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), ROUND_HALF_UP)


def expected_metrics(plan: Plan) -> dict[str, int | Decimal | None]:
    """Every reference metric as the plan's counted rows define it, at its reference as-of."""
    s = {code: sp.cells for code, sp in plan.sources.items()}
    out: dict[str, int | Decimal | None] = {}

    def total(df: pd.DataFrame, col: str = "n") -> int:
        return int(df[col].sum())

    reg = s["registration"]
    for code, txn in (
        ("reg.establish", "设立登记"),
        ("reg.change", "变更登记"),
        ("reg.migrate_in", "迁入登记"),
        ("reg.deregister", "注销登记"),
    ):
        out[code] = total(reg[reg.txn_type == txn])
    out["reg.establish.online"] = total(
        reg[(reg.txn_type == "设立登记") & (reg.channel == "网上办理")]
    )
    out["reg.change.online"] = total(
        reg[(reg.txn_type == "变更登记") & (reg.channel == "网上办理")]
    )
    est = int(out["reg.establish"] or 0)
    online = int(out["reg.establish.online"] or 0)
    out["reg.establish.online_share"] = (
        _half_up(Decimal(100) * Decimal(online) / Decimal(est)) if est else None
    )

    food = s["food_license"]
    granted = food[food.outcome == "准予许可"]
    out["food.issued"] = total(granted[granted.matter.isin(["新办", "变更", "补发", "延续"])])
    for code, matter in (
        ("food.issued.new", "新办"),
        ("food.issued.change", "变更"),
        ("food.issued.reissue", "补发"),
        ("food.issued.renewal", "延续"),
        ("food.cancelled", "注销"),
    ):
        out[code] = total(granted[granted.matter == matter])

    seq = s["special_equipment"]
    out["seq.approved_units"] = total(seq[seq.status == "核准"], "units")
    dev = s["medical_device"]
    out["device.accepted"] = total(dev[dev.status != "不予受理"])

    cases = s["cases"]
    filed_all = cases[cases.status != "已撤销"]
    filed_asof = filed_all[~filed_all.late.astype(bool)]
    out["cases.filed"] = total(filed_asof)
    out["cases.to_police"] = total(filed_all[filed_all.to_police == "是"])
    closed = cases[cases.status == "已结案"]
    out["cases.closed.food"] = total(closed[closed.category == "食品"])
    out["cases.closed.drug_cosmetic_device"] = total(
        closed[closed.category.isin(["药品", "化妆品", "医疗器械"])]
    )
    out["cases.closed.quality"] = total(closed[closed.category == "产品质量"])
    out["cases.closed.special_equipment"] = total(closed[closed.category == "特种设备"])
    out["cases.mitigated"] = total(closed[closed.discretion == "减轻"])
    out["cases.exempted"] = total(closed[closed.discretion == "免予处罚"])
    tob = filed_all[filed_all.campaign == "无证经营烟草专项"]
    out["cases.tobacco"] = total(tob)
    out["cases.tobacco.general"] = total(tob[tob.procedure == "一般程序"])
    out["cases.frozen_goods"] = total(filed_all[filed_all.campaign == "冻品走私联合检查"])

    ins = s["inspections"]
    for code, ttype in (
        ("insp.drug_retail", "药品零售企业"),
        ("insp.drug_user", "药品使用单位"),
        ("insp.device_trade", "医疗器械经营企业"),
        ("insp.device_user", "医疗器械使用单位"),
        ("insp.device_maker", "医疗器械生产企业"),
    ):
        out[code] = total(ins[ins.target_type == ttype])
    rnd = ins[ins.method == "双随机抽查"]
    out["random.tasks"] = int(rnd.task_no.nunique())
    first = rnd[rnd.visit == "first"]
    out["random.market_entities"] = total(first[first.is_market == "是"])
    out["random.non_market_entities"] = total(first[first.is_market == "否"])
    for short, campaign in (
        ("fuel", "加油机作弊专项"),
        ("tobacco", "无证经营烟草专项"),
        ("bbq", "烧烤餐饮安全整治"),
        ("frozen", "冻品走私联合检查"),
    ):
        c = ins[ins.campaign == campaign]
        out[f"campaign.{short}.rounds"] = int(c["round"].nunique())
        out[f"campaign.{short}.officers"] = total(c, "officers")
        out[f"campaign.{short}.sites"] = total(c)

    ip = s["ip_stats"]
    latest = ip[(ip.region == REGION) & (ip.year == plan.year) & (ip.month == 10)].iloc[0]
    before = ip[(ip.region == REGION) & (ip.year == plan.year - 1) & (ip.month == 10)].iloc[0]
    out["ip.patents_granted"] = int(latest.patents_granted_ytd)
    out["ip.valid_invention"] = int(latest.valid_invention_patents)
    out["ip.valid_trademarks"] = int(latest.valid_trademarks)
    out["ip.valid_invention.yoy"] = _half_up(
        Decimal(100)
        * (
            Decimal(int(latest.valid_invention_patents))
            / Decimal(int(before.valid_invention_patents))
            - 1
        )
    )

    ipc = s["ip_cases"]
    admitted = ipc[ipc.status != "不予立案"]
    out["ipcase.patent_dispute"] = total(admitted[admitted.kind == "专利侵权纠纷"])
    out["ipcase.trademark"] = total(admitted[admitted.kind == "商标侵权"])
    out["ipcase.counterfeit_patent"] = total(admitted[admitted.kind == "假冒专利"])
    out["ipcase.ecommerce_leads"] = total(ipc[ipc.kind == "电商平台线索"])

    pl = s["ip_pledge"]
    out["pledge.count"] = total(pl)
    out["pledge.amount_yi"] = _half_up(Decimal(total(pl, "amount_cents")) / Decimal(100 * 10000))
    return out


def reference_values() -> dict[str, int | Decimal]:
    """TARGETS as typed values (Decimal for the two-decimal figures)."""
    return {k: (Decimal(v) if isinstance(v, str) else v) for k, (v, _) in TARGETS.items()}


def plan_table(plan: Plan) -> pd.DataFrame:
    """A reviewable summary: counted rows per source and month (files' period starts)."""
    frames = []
    for code, sp in plan.sources.items():
        c = sp.cells
        if code == "ip_stats":
            c = c[c["year"] == plan.year]
        g = c.groupby("month")["n"].sum().reindex(range(1, 13), fill_value=0)
        frames.append(
            pd.DataFrame([g.to_numpy()], index=[code], columns=[f"{m:02d}" for m in range(1, 13)])
        )
    table = pd.concat(frames)
    table["year"] = table.sum(axis=1)
    return table
