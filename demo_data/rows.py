"""Canonical rows of one export file, expanded from the plan's cells.

A builder receives the cells of one file (each with `n` counted rows and the metric-relevant
values) and returns a frame with one column per declared field (connectors/sources.py) holding
*canonical* values: text as str ('' = blank), dates as datetime64[D] (NaT = blank), epoch
instants as int64 milliseconds (-1 = null), ints as int64 (-1 = blank), amounts as int64 cents.
Builders only choose what no figure depends on. Pure: no IO, randomness from `ctx.rng`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from demo_data import codes
from demo_data.plan import FileSpec

NAT = np.datetime64("NaT", "D")
BUREAU = "江门市蓬江区市场监督管理局"


@dataclass
class Ctx:
    """What a builder needs besides its cells."""

    spec: FileSpec
    rng: np.random.Generator
    key_offset: int = 0  # first sequence number of this file's keys (year-wide numbering)

    @property
    def year(self) -> int:
        return self.spec.start.year


def expand(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per counted row of each cell (cell columns repeated)."""
    if cells.empty:
        return cells.iloc[0:0].copy()
    return cells.loc[cells.index.repeat(cells["n"].to_numpy())].reset_index(drop=True)


def sample_days(
    rng: np.random.Generator,
    year: int,
    month: int,
    n: int,
    weekend: float = 0.08,
    first: int = 1,
    last: int | None = None,
) -> np.ndarray:
    """n dates in the month, working days preferred (Labour Day and Golden Week quiet)."""
    ndays = calendar.monthrange(year, month)[1]
    days = np.datetime64(f"{year}-{month:02d}-01") + np.arange(ndays).astype("timedelta64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    w = np.where(weekday >= 5, weekend, 1.0)
    dom = np.arange(1, ndays + 1)
    if month == 5:
        w[dom <= 5] = weekend
    if month == 10:
        w[dom <= 7] = weekend
    w[(dom < first) | (dom > (last or ndays))] = 0.0
    if w.sum() == 0:
        w[(dom >= first) & (dom <= (last or ndays))] = 1.0
    return rng.choice(days, size=n, p=w / w.sum())


def split_sum(rng: np.random.Generator, total: int, n: int, minimum: int = 1) -> np.ndarray:
    """n positive integers (each >= minimum) summing exactly to total."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    extra = total - minimum * n
    return minimum + rng.multinomial(max(extra, 0), np.full(n, 1.0 / n))


def split_cells(
    rng: np.random.Generator, rows: pd.DataFrame, column: str, minimum: int = 1
) -> np.ndarray:
    """Distribute each cell's sum (`column`) over its rows (rows are grouped by cell)."""
    out = np.zeros(len(rows), dtype=np.int64)
    cell = rows["_cell"].to_numpy()
    if not len(rows):
        return out
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]]).tolist()
    ends = starts[1:] + [len(rows)]
    totals = rows[column].to_numpy()
    for s, e in zip(starts, ends, strict=True):
        out[s:e] = split_sum(rng, int(totals[s]), e - s, minimum)
    return out


def seq_keys(prefix: str, seq: np.ndarray, width: int) -> np.ndarray:
    width = max(width, len(str(int(seq.max()) if len(seq) else 0)))
    return np.array([f"{prefix}{int(s):0{width}d}" for s in seq], dtype=object)


def _with_cells(cells: pd.DataFrame) -> pd.DataFrame:
    c = cells.copy()
    c["_cell"] = np.arange(len(c))
    return expand(c)


def _by_key_date(df: pd.DataFrame, date_col: str, rng: np.random.Generator) -> pd.DataFrame:
    """Order rows the way the systems number them: by date, ties at random."""
    tie = rng.random(len(df))
    order = np.lexsort((tie, df[date_col].to_numpy()))
    return df.iloc[order].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------


def registration_names(rng: np.random.Generator, entity_type: np.ndarray) -> np.ndarray:
    n = len(entity_type)
    out = codes.company_names(rng, n)
    ind = entity_type == "个体工商户"
    k = int(ind.sum())
    out[ind] = codes.person_names(rng, k) + codes.pick(rng, codes.SHOPS, k)
    coop = entity_type == "农民专业合作社"
    k = int(coop.sum())
    out[coop] = (
        "江门市蓬江区"
        + codes.pick(rng, codes.TRADE_NAMES, k)
        + codes.pick(rng, codes.COOP_CROPS, k)
        + "专业合作社"
    )
    return out


ENTITY_TYPE_SHARES = {
    "设立登记": (0.36, 0.63, 0.01),
    "变更登记": (0.55, 0.44, 0.01),
    "注销登记": (0.35, 0.64, 0.01),
    "迁入登记": (0.92, 0.08, 0.0),
    "迁出登记": (0.90, 0.10, 0.0),
    "备案": (0.80, 0.19, 0.01),
}
ENTITY_TYPES = np.array(["企业", "个体工商户", "农民专业合作社"], dtype=object)
USCC_PREFIX = {"企业": "91440703", "个体工商户": "92440703", "农民专业合作社": "93440703"}
# Companies moving in keep the code issued where they were registered.
MIGRANT_PREFIXES = np.array(
    ["91440101", "91440604", "91440300", "91440606", "91442000"], dtype=object
)
LAG_P = {
    "设立登记": 0.45,
    "变更登记": 0.3,
    "注销登记": 0.08,
    "迁入登记": 0.2,
    "迁出登记": 0.2,
    "备案": 0.4,
}


def build_registration(cells: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    rng, m = ctx.rng, ctx.spec.start.month
    r = expand(cells)
    n = len(r)
    txn = r["txn_type"].to_numpy(dtype=object)
    channel = r["channel"].to_numpy(dtype=object)
    etype = np.empty(n, dtype=object)
    for t, shares in ENTITY_TYPE_SHARES.items():
        sel = txn == t
        etype[sel] = ENTITY_TYPES[rng.choice(3, size=int(sel.sum()), p=shares)]
    prefixes = np.array([USCC_PREFIX[e] for e in etype], dtype=object)
    migrant = (txn == "迁入登记") & (etype == "企业")
    prefixes[migrant] = MIGRANT_PREFIXES[rng.integers(0, len(MIGRANT_PREFIXES), int(migrant.sum()))]
    approved = np.empty(n, dtype="datetime64[D]")
    online = channel == "网上办理"
    approved[online] = sample_days(rng, ctx.year, m, int(online.sum()), weekend=0.3)
    approved[~online] = sample_days(rng, ctx.year, m, int((~online).sum()), weekend=0.02)
    lag = np.zeros(n, dtype=np.int64)
    for t, p in LAG_P.items():
        sel = txn == t
        lag[sel] = np.minimum(rng.geometric(p, int(sel.sum())) - 1, 45)
    df = pd.DataFrame(
        {
            "uscc": codes.random_uscc(rng, prefixes),
            "entity_name": registration_names(rng, etype),
            "entity_type": etype,
            "txn_type": txn,
            "channel": channel,
            "applied_on": approved - lag.astype("timedelta64[D]"),
            "approved_on": approved,
            "authority": np.where(rng.random(n) < 0.97, BUREAU, ""),
            "subdistrict": codes.pick(rng, codes.SUBDISTRICTS, n),
        }
    )
    df = _by_key_date(df, "applied_on", rng)
    df.insert(
        0, "txn_id", seq_keys(f"DJ{ctx.year}{m:02d}", ctx.key_offset + np.arange(1, n + 1), 5)
    )
    return df


# ---------------------------------------------------------------------------------------------

FOOD_LAG = {"新办": (5, 15), "变更": (1, 8), "延续": (5, 15), "补发": (1, 5), "注销": (1, 5)}


def food_operator_names(rng: np.random.Generator, n: int) -> np.ndarray:
    out = codes.company_names(rng, n, industry="餐饮")
    shops = rng.random(n) < 0.55
    k = int(shops.sum())
    out[shops] = codes.person_names(rng, k) + codes.pick(
        rng, ["餐馆", "小食店", "烧腊店", "便利店", "食品商行", "糖水店"], k
    )
    food = rng.random(n) < 0.2
    out[food & ~shops] = codes.company_names(rng, int((food & ~shops).sum()), industry="食品")
    return out


def license_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """`JY` + business type digit + region + 7 digits (14 digits in all)."""
    kind = rng.choice(["1", "2", "3"], size=n, p=[0.45, 0.5, 0.05]).astype(object)
    tail = np.char.zfill(rng.integers(0, 10**7, n).astype(str), 7).astype(object)
    return "JY" + kind + codes.REGION_CODE + tail


def build_food_license(cells: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    rng, m = ctx.rng, ctx.spec.start.month
    r = expand(cells)
    n = len(r)
    matter = r["matter"].to_numpy(dtype=object)
    outcome = r["outcome"].to_numpy(dtype=object)
    concluded = sample_days(rng, ctx.year, m, n, weekend=0.02)
    lag = np.zeros(n, dtype=np.int64)
    for k, (lo, hi) in FOOD_LAG.items():
        sel = matter == k
        lag[sel] = rng.integers(lo, hi + 1, int(sel.sum()))
    license_no = license_numbers(rng, n)
    license_no[outcome != "准予许可"] = ""
    df = pd.DataFrame(
        {
            "license_no": license_no,
            "operator_name": food_operator_names(rng, n),
            "matter": matter,
            "health_food": np.where(rng.random(n) < 0.08, "是", "否").astype(object),
            "accepted_on": concluded - lag.astype("timedelta64[D]"),
            "concluded_on": concluded,
            "outcome": outcome,
        }
    )
    df = _by_key_date(df, "accepted_on", rng)
    df.insert(0, "case_no", seq_keys(f"SP{ctx.year}{m:02d}", ctx.key_offset + np.arange(n), 4))
    return df


# ---------------------------------------------------------------------------------------------

EQUIPMENT_DIGIT = {
    "锅炉": "1",
    "压力容器": "2",
    "电梯": "3",
    "起重机械": "4",
    "场(厂)内专用机动车辆": "5",
    "大型游乐设施": "6",
    "压力管道": "8",
    "客运索道": "9",
}
MS_PER_MIN = 60_000
UTC_OFFSET_MIN = 8 * 60


def local_to_epoch_ms(days: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """Local (UTC+8) date + minute of day -> epoch milliseconds UTC."""
    day_ms = days.astype("datetime64[D]").astype(np.int64) * 86_400_000
    return day_ms + (minutes.astype(np.int64) - UTC_OFFSET_MIN) * MS_PER_MIN


def office_minutes(rng: np.random.Generator, n: int, night_share: float) -> np.ndarray:
    """Minutes after local midnight: office hours, some from the nightly batch (00:00-00:59).

    The night ones are the previous day in UTC: a reader that forgets UTC+8 misdates them.
    """
    minutes = rng.integers(8 * 60 + 30, 17 * 60 + 30, n)
    night = rng.random(n) < night_share
    minutes[night] = rng.integers(0, 60, int(night.sum()))
    return minutes


def build_special_equipment(cells: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    rng, m = ctx.rng, ctx.spec.start.month
    r = _with_cells(cells)
    n = len(r)
    status = r["status"].to_numpy(dtype=object)
    category = r["category"].to_numpy(dtype=object)
    approved = status == "核准"
    units = np.where(category == "电梯", 1, rng.integers(1, 4, n))
    if approved.any():
        units[approved] = split_cells(rng, r[approved].reset_index(drop=True), "units")
    decided = np.isin(status, ["核准", "退回"])
    # The partition date: decision date when decided, else the application date.
    part = sample_days(rng, ctx.year, m, n, weekend=0.05)
    part_min = office_minutes(rng, n, night_share=0.04)
    if m == 1 and approved.any():
        # A New Year's night approval: 2023-12-31 in UTC, 2024-01-01 locally.
        i = int(np.flatnonzero(approved)[0])
        part[i] = np.datetime64(f"{ctx.year}-01-01")
        part_min[i] = 20
    lag = np.where(decided, rng.integers(1, 21, n), 0)
    apply_day = part - lag.astype("timedelta64[D]")
    apply_min = office_minutes(rng, n, night_share=0.02)
    same_day_late = (lag == 0) & (apply_min > part_min)
    apply_min[same_day_late] = part_min[same_day_late]
    decided_ms = np.where(decided, local_to_epoch_ms(part, part_min), -1)
    equip = np.array([EQUIPMENT_DIGIT[c] for c in category], dtype=object) + np.char.zfill(
        rng.integers(0, 10**9, n).astype(str), 9
    ).astype(object)
    df = pd.DataFrame(
        {
            "equipment_code": equip,
            "category": category,
            "user_unit": codes.company_names(rng, n),
            "units": units.astype(np.int64),
            "status": status,
            "applied_on": local_to_epoch_ms(apply_day, apply_min),
            "decided_on": decided_ms,
        }
    )
    df["_order"] = np.where(decided, decided_ms, df["applied_on"])
    df = _by_key_date(df, "_order", rng).drop(columns="_order")
    df.insert(0, "reg_no", seq_keys(f"TS{ctx.year}{m:02d}", ctx.key_offset + np.arange(n), 4))
    return df


# ---------------------------------------------------------------------------------------------


def build_medical_device(cells: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    rng, m = ctx.rng, ctx.spec.start.month
    r = expand(cells)
    n = len(r)
    status = r["status"].to_numpy(dtype=object)
    accepted = sample_days(rng, ctx.year, m, n, weekend=0.0)
    concluded = accepted + rng.integers(3, 21, n).astype("timedelta64[D]")
    concluded[status != "已办结"] = NAT
    names = (
        "江门市"
        + codes.pick(rng, codes.TRADE_NAMES, n)
        + codes.pick(rng, codes.TRADE_NAMES, n)
        + codes.pick(
            rng, ["医疗器械有限公司", "医疗科技有限公司", "大药房连锁有限公司", "医药有限公司"], n
        )
    )
    df = pd.DataFrame(
        {
            "company_name": names,
            "uscc": codes.random_uscc(rng, np.full(n, "91440703", dtype=object)),
            "application_type": codes.pick(
                rng, ["新办"] * 11 + ["变更"] * 5 + ["延续"] * 3 + ["注销"], n
            ),
            "trade_mode": codes.pick(rng, ["零售"] * 12 + ["批发"] * 3 + ["批零兼营"] * 5, n),
            "accepted_on": accepted,
            "concluded_on": concluded,
            "status": status,
        }
    )
    df = _by_key_date(df, "accepted_on", rng)
    df.insert(
        0, "acceptance_no", seq_keys(f"YX{ctx.year}{m:02d}", ctx.key_offset + np.arange(n), 3)
    )
    return df


# ---------------------------------------------------------------------------------------------

VIOLATIONS = {
    "食品": ["销售过期食品", "经营超过保质期的食品", "未取得许可从事食品经营", "餐具未消毒"],
    "药品": ["销售劣药", "未凭处方销售处方药"],
    "化妆品": ["经营未备案化妆品", "销售过期化妆品"],
    "医疗器械": ["经营无合格证明医疗器械", "未按规定备案经营二类医疗器械"],
    "产品质量": ["销售不合格电线电缆", "生产不合格产品"],
    "特种设备": ["使用未经定期检验的电梯", "未经许可从事特种设备作业"],
    "计量": ["使用不合格计量器具", "加油机计量作弊"],
    "价格": ["不明码标价", "价格欺诈"],
    "广告": ["发布虚假广告", "发布违法医疗广告"],
    "知识产权": ["销售侵犯注册商标专用权商品", "假冒专利"],
    "烟草": ["无证经营烟草制品"],
    "其他": ["未按规定公示年度报告", "无照经营"],
}
FROZEN_VIOLATION = "经营标签不符合规定的冷冻食品"


def penalty_cents(
    rng: np.random.Generator, procedure: np.ndarray, discretion: np.ndarray, status: np.ndarray
) -> np.ndarray:
    n = len(procedure)
    general = np.round(rng.lognormal(np.log(8000), 1.0, n), 2)
    simple = rng.integers(2, 61, n) * 50.0
    yuan = np.where(procedure == "简易程序", simple, general)
    cents = np.round(yuan * 100).astype(np.int64)
    # Round amounts are the norm; a few carry confiscated cents.
    whole = rng.random(n) < 0.8
    cents[whole] = (cents[whole] // 10000) * 10000 + 10000
    cents[np.isin(discretion, ["免予处罚", "不予处罚"])] = 0
    cents[status != "已结案"] = -1  # not decided yet: blank
    return cents


def build_cases(cells: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    rng, m, year = ctx.rng, ctx.spec.start.month, ctx.year
    r = expand(cells)
    n = len(r)
    status = r["status"].to_numpy(dtype=object)
    procedure = r["procedure"].to_numpy(dtype=object)
    category = r["category"].to_numpy(dtype=object)
    late = r["late"].to_numpy(dtype=bool)
    filed = np.empty(n, dtype="datetime64[D]")
    if m == 12:
        filed[late] = sample_days(rng, year, 12, int(late.sum()), first=28)
        filed[~late] = sample_days(rng, year, 12, int((~late).sum()), last=27)
    else:
        filed[:] = sample_days(rng, year, m, n)
    year_end = np.datetime64(f"{year}-12-31")
    duration = np.where(procedure == "简易程序", rng.integers(0, 3, n), rng.integers(20, 111, n))
    closed = np.minimum(filed + duration.astype("timedelta64[D]"), year_end)
    closed[status != "已结案"] = NAT
    person = rng.random(n) < np.where(category == "烟草", 0.6, 0.25)
    party_name = codes.company_names(rng, n)
    party_name[person] = codes.person_names(rng, int(person.sum()))
    party_id = codes.random_uscc(rng, np.full(n, "91440703", dtype=object))
    # A third of small-business parties are 个体工商户 (92…) rather than companies.
    shop = ~person & (rng.random(n) < 0.3)
    party_id[shop] = codes.random_uscc(rng, np.full(int(shop.sum()), "92440703", dtype=object))
    party_name[shop] = codes.person_names(rng, int(shop.sum())) + codes.pick(
        rng, codes.SHOPS, int(shop.sum())
    )
    k = int(person.sum())
    party_id[person] = codes.resident_ids(rng, k, year, force_x=min(k, max(1, k // 12)))
    campaign = r["campaign"].to_numpy(dtype=object)
    violation = np.array(
        [VIOLATIONS[c][rng.integers(0, len(VIOLATIONS[c]))] for c in category], dtype=object
    )
    violation[campaign == "冻品走私联合检查"] = FROZEN_VIOLATION
    df = pd.DataFrame(
        {
            "title": party_name + violation + "案",
            "category": category,
            "filed_on": filed,
            "closed_on": closed,
            "status": status,
            "procedure": procedure,
            "discretion": r["discretion"].to_numpy(dtype=object),
            "penalty_yuan": penalty_cents(
                rng, procedure, r["discretion"].to_numpy(dtype=object), status
            ),
            "to_police": r["to_police"].to_numpy(dtype=object),
            "handling_unit": codes.pick(rng, codes.OFFICES, n),
            "campaign": campaign,
            "party_type": np.where(person, "个人", "单位").astype(object),
            "party_name": party_name,
            "party_id": party_id,
        }
    )
    df = _by_key_date(df, "filed_on", rng)
    seq = ctx.key_offset + np.arange(1, n + 1)
    df.insert(0, "case_no", np.array([f"江蓬市监处罚〔{year}〕{s}号" for s in seq], dtype=object))
    return df


# ---------------------------------------------------------------------------------------------

TARGET_SUFFIXES = {
    ("药品零售企业", "是"): ["大药房有限公司", "医药连锁有限公司门店", "药店"],
    ("药品使用单位", "是"): ["诊所", "门诊部", "中医馆"],
    ("药品使用单位", "否"): ["人民医院", "社区卫生服务中心", "卫生院"],
    ("医疗器械经营企业", "是"): ["医疗器械有限公司", "医疗科技有限公司", "大药房有限公司"],
    ("医疗器械使用单位", "是"): ["口腔诊所", "医疗美容诊所", "眼镜店"],
    ("医疗器械使用单位", "否"): ["中心医院", "妇幼保健院", "社区卫生服务中心"],
    ("医疗器械生产企业", "是"): ["医疗用品有限公司", "生物科技有限公司"],
    ("化妆品经营者", "是"): ["化妆品商行", "美妆店", "日化有限公司"],
    ("食品经营者", "是"): ["餐饮有限公司", "食品商行", "超市", "饮食店"],
    ("食品经营者", "否"): ["学校食堂", "机关食堂"],
    ("加油站", "是"): ["石油化工有限公司加油站", "能源有限公司加油站"],
    ("烧烤店", "是"): ["烧烤店", "烧烤大排档"],
    ("冻品经营者", "是"): ["冻品商行", "冷冻食品有限公司"],
    ("烟草零售点", "是"): ["便利店", "士多店", "烟酒商行"],
    ("其他", "是"): ["贸易有限公司", "五金店", "电器商行"],
    ("其他", "否"): ["行业协会", "商会", "职业技术学校"],
}
NON_MARKET_PREFIX = {"其他": "51440703", "食品经营者": "12440703"}
DAILY_ID_BASE = 5_000_000  # routine inspections draw their targets from a separate range


def target_codes(ids: np.ndarray, market: np.ndarray, ttype: np.ndarray) -> np.ndarray:
    """Stable codes per entity id: 91/92 for market entities, 12/51 for the others."""
    out = np.empty(len(ids), dtype=object)
    for mk in ("是", "否"):
        for t in np.unique(ttype):
            sel = (market == mk) & (ttype == t)
            if not sel.any():
                continue
            if mk == "否":
                prefix = NON_MARKET_PREFIX.get(str(t), "12440703")
                out[sel] = codes.uscc_for_ids(prefix, ids[sel], salt=7)
            else:
                shop = ids[sel] % 3 == 0
                idx = np.flatnonzero(sel)
                if (~shop).any():
                    out[idx[~shop]] = codes.uscc_for_ids("91440703", ids[sel][~shop], salt=1)
                if shop.any():
                    out[idx[shop]] = codes.uscc_for_ids("92440703", ids[sel][shop], salt=2)
    return out


def target_names(ids: np.ndarray, market: np.ndarray, ttype: np.ndarray) -> np.ndarray:
    out = np.empty(len(ids), dtype=object)
    for (t, mk), suffixes in TARGET_SUFFIXES.items():
        sel = (ttype == t) & (market == mk)
        if sel.any():
            out[sel] = codes.names_for_ids(ids[sel], salt=hash_salt(t, mk), suffixes=suffixes)
    missing = np.array([v is None for v in out])
    if missing.any():
        out[missing] = codes.names_for_ids(ids[missing], salt=3, suffixes=["有限公司"])
    return out


def hash_salt(*parts: str) -> int:
    """A salt from text that is stable across runs (unlike hash())."""
    return sum((i + 1) * ord(c) for i, c in enumerate("".join(parts)))


def build_inspections(cells: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    rng, m, year = ctx.rng, ctx.spec.start.month, ctx.year
    r = _with_cells(cells)
    n = len(r)
    ttype = r["target_type"].to_numpy(dtype=object)
    market = r["is_market"].to_numpy(dtype=object)
    visit = r["visit"].to_numpy(dtype=object)
    ids = rng.integers(DAILY_ID_BASE, DAILY_ID_BASE + 400_000, n).astype(np.int64)
    cell = r["_cell"].to_numpy()
    start = r["entity_start"].to_numpy()
    block = r["entity_block"].to_numpy()
    for c in np.unique(cell[visit != ""]):
        sel = np.flatnonzero(cell == c)
        if visit[sel[0]] == "first":
            ids[sel] = start[sel[0]] + np.arange(len(sel))
        else:
            ids[sel] = start[sel[0]] + rng.choice(int(block[sel[0]]), size=len(sel), replace=False)
    # Separate id spaces per market flag: a non-market id never collides with a market one.
    ids = np.where(market == "否", ids + 90_000_000, ids)
    officers = np.where(rng.random(n) < 0.75, 2, rng.integers(1, 5, n))
    campaign = r["campaign"].to_numpy(dtype=object)
    has_campaign = campaign != ""
    if has_campaign.any():
        officers[has_campaign] = split_cells(
            rng, r[has_campaign].reset_index(drop=True), "officers"
        )
    rnd = r["round"].to_numpy()
    df = pd.DataFrame(
        {
            "target_name": target_names(ids, market, ttype),
            "target_code": target_codes(ids, market, ttype),
            "target_type": ttype,
            "is_market_entity": market,
            "inspected_on": sample_days(rng, year, m, n, weekend=0.03),
            "method": r["method"].to_numpy(dtype=object),
            "random_task_no": r["task_no"].to_numpy(dtype=object),
            "campaign": campaign,
            "campaign_round": np.where(has_campaign, rnd, -1).astype(np.int64),
            "officers": officers.astype(np.int64),
            "result": codes.pick(rng, ["未发现问题"] * 14 + ["责令整改"] * 5 + ["立案查处"], n),
        }
    )
    df = _by_key_date(df, "inspected_on", rng)
    df.insert(0, "record_no", seq_keys(f"JC{year}", ctx.key_offset + np.arange(1, n + 1), 6))
    return df


# ---------------------------------------------------------------------------------------------

HANDLING = {
    "专利侵权纠纷": (["行政裁决", "行政+公证"], [0.8, 0.2]),
    "商标侵权": (["行政处罚"], [1.0]),
    "假冒专利": (["行政处罚"], [1.0]),
    "电商平台线索": (["线索核查"], [1.0]),
}
TRADEMARKS = np.array(
    ["杜阮凉瓜", "杜阮凉瓜", "江门排粉", "荷塘纱龙", "棠下沙梨", "蓬江牛肉干"], dtype=object
)


def build_ip_cases(cells: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    rng, year = ctx.rng, ctx.year
    r = expand(cells)
    n = len(r)
    kind = r["kind"].to_numpy(dtype=object)
    received = np.empty(n, dtype="datetime64[D]")
    months = r["month"].to_numpy()
    for mm in np.unique(months):
        sel = months == mm
        received[sel] = sample_days(rng, year, int(mm), int(sel.sum()))
    handling = np.empty(n, dtype=object)
    for k, (opts, p) in HANDLING.items():
        sel = kind == k
        handling[sel] = np.array(opts, dtype=object)[rng.choice(len(opts), int(sel.sum()), p=p)]
    tm = np.full(n, "", dtype=object)
    has_tm = (kind == "商标侵权") | ((kind == "电商平台线索") & (rng.random(n) < 0.5))
    tm[has_tm] = TRADEMARKS[rng.integers(0, len(TRADEMARKS), int(has_tm.sum()))]
    df = pd.DataFrame(
        {
            "kind": kind,
            "received_on": received,
            "handling": handling,
            "trademark": tm,
            "status": r["status"].to_numpy(dtype=object),
        }
    )
    df = _by_key_date(df, "received_on", rng)
    q = (ctx.spec.start.month - 1) // 3 + 1
    df.insert(0, "ref_no", seq_keys(f"ZC{year}Q{q}", ctx.key_offset + np.arange(n), 3))
    return df


BANKS = np.array(
    [
        "江门农商银行",
        "中国工商银行江门分行",
        "中国银行江门分行",
        "中国建设银行江门分行",
        "广发银行江门分行",
        "招商银行江门分行",
    ],
    dtype=object,
)


def build_ip_pledge(cells: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    rng, year = ctx.rng, ctx.year
    r = _with_cells(cells)
    n = len(r)
    months = r["month"].to_numpy()
    registered = np.empty(n, dtype="datetime64[D]")
    for mm in np.unique(months):
        sel = months == mm
        registered[sel] = sample_days(rng, year, int(mm), int(sel.sum()), weekend=0.0)
    df = pd.DataFrame(
        {
            "pledgor": codes.company_names(rng, n),
            "pledgee": BANKS[rng.integers(0, len(BANKS), n)],
            "collateral": r["collateral"].to_numpy(dtype=object),
            "registered_on": registered,
            "amount_wan": split_cells(rng, r, "amount_cents", minimum=100),
        }
    )
    df = _by_key_date(df, "registered_on", rng)
    h = 1 if ctx.spec.start.month == 1 else 2
    df.insert(0, "reg_no", seq_keys(f"ZY{year}H{h}", ctx.key_offset + np.arange(n), 3))
    return df


def build_ip_stats(cells: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    cols = [
        "patents_granted_ytd",
        "invention_granted_ytd",
        "valid_invention_patents",
        "valid_trademarks",
        "gi_trademarks",
    ]
    df = cells[["region", *cols]].copy()
    df.insert(0, "month", np.datetime64(f"{ctx.spec.start:%Y-%m}-01"))
    for c in cols:
        df[c] = df[c].astype(np.int64)
    return df.reset_index(drop=True)


BUILDERS: dict[str, Callable[[pd.DataFrame, Ctx], pd.DataFrame]] = {
    "registration": build_registration,
    "food_license": build_food_license,
    "special_equipment": build_special_equipment,
    "medical_device": build_medical_device,
    "cases": build_cases,
    "inspections": build_inspections,
    "ip_stats": build_ip_stats,
    "ip_cases": build_ip_cases,
    "ip_pledge": build_ip_pledge,
}
