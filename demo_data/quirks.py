"""Everything the contract allows an export to do to its rows, applied without moving a figure.

- `render` spells canonical rows as the export would (date spellings, Excel date cells, spaces,
  full-width characters, channel synonyms, thousands separators).
- `reject_rows` makes the *extra* rows a file carries that the pipeline must reject, one per
  planned reason (conflicting_key: a pair sharing a key).
- `superseded` derives the first version of a corrected period from the counted rows.
Duplicates are re-renderings of counted rows (see generate.py), so they are equal after the
common value rules and count once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from connectors.sources import SOURCES, Source
from demo_data import codes
from demo_data import render as spell
from demo_data.plan import FileSpec
from demo_data.rows import NAT, local_to_epoch_ms

CHANNEL_SPELLINGS = {
    "网上办理": [("网上办理", 0.55), ("全程网办", 0.3), ("网办", 0.15)],
    "窗口办理": [("窗口办理", 0.5), ("现场办理", 0.3), ("窗口", 0.2)],
}


@dataclass(frozen=True)
class Profile:
    """How sloppy one source's export is (shares of rows affected)."""

    spaces: dict[str, float] = field(default_factory=dict)
    fullwidth: dict[str, float] = field(default_factory=dict)
    synonyms: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)
    date_cells: float = 0.0  # xlsx: share of real Excel date cells
    amount_text: float = 0.0  # xlsx: share of amounts written as text with separators
    blank_zero: float = 0.0  # share of zero amounts left blank (blank = 0)


PROFILES = {
    "registration": Profile(
        spaces={"entity_name": 0.02, "subdistrict": 0.005},
        fullwidth={"uscc": 0.01},
        synonyms={"channel": CHANNEL_SPELLINGS},
    ),
    "food_license": Profile(
        spaces={"operator_name": 0.02}, fullwidth={"license_no": 0.005}, date_cells=0.5
    ),
    "special_equipment": Profile(spaces={"user_unit": 0.02}),
    "medical_device": Profile(spaces={"company_name": 0.03}, fullwidth={"uscc": 0.02}),
    "cases": Profile(
        spaces={"handling_unit": 0.03, "party_name": 0.01},
        fullwidth={"party_id": 0.01},
        date_cells=0.5,
        amount_text=0.3,
        blank_zero=0.4,
    ),
    "inspections": Profile(
        spaces={"target_name": 0.03, "target_code": 0.005},
        fullwidth={"target_code": 0.01, "random_task_no": 0.02},
    ),
    "ip_stats": Profile(),
    "ip_cases": Profile(spaces={"trademark": 0.05}),
    "ip_pledge": Profile(spaces={"pledgor": 0.03}, date_cells=0.4, amount_text=0.4),
}

# Columns whose spelling duplicates keep verbatim (numbers: never re-spelled).
FRAGILE_TYPES = ("int", "decimal")


def _month_text(month: np.datetime64, style: str) -> str:
    y, m = str(month)[:4], int(str(month)[5:7])
    return {
        "iso": f"{y}-{m:02d}",
        "iso_short": f"{y}-{m}",
        "slash": f"{y}/{m}",
        "chinese": f"{y}年{m}月",
    }[style]


def render(
    source: str, canon: pd.DataFrame, spec: FileSpec, rng: np.random.Generator
) -> pd.DataFrame:
    """Cell values per field (object columns): str, int, float, datetime or None."""
    src = SOURCES[source]
    prof = PROFILES[source]
    xlsx = src.format == "xlsx"
    out = {}
    for col in src.columns:
        v = canon[col.field].to_numpy()
        n = len(v)
        if col.type in ("text", "enum", "bool"):
            cell = v.astype(object)
            if col.field in prof.synonyms:
                cell = spell.synonyms(cell, rng, prof.synonyms[col.field])
            if col.field in prof.fullwidth:
                cell = spell.maybe_fullwidth(cell, rng, prof.fullwidth[col.field])
            if col.field in prof.spaces:
                nonblank = cell != ""
                cell[nonblank] = spell.spaced(cell[nonblank], rng, prof.spaces[col.field])
        elif col.type == "date":
            cell = np.full(n, "", dtype=object)
            present = ~np.isnat(v)
            if xlsx:
                cell[present] = spell.excel_dates(v[present], rng, prof.date_cells)
            else:
                cell[present] = spell.csv_dates(v[present], rng)
        elif col.type == "epoch_ms_date":
            cell = np.array([int(x) if x >= 0 else None for x in v], dtype=object)
        elif col.type == "month":
            cell = np.array([_month_text(x, spec.month_style) for x in v], dtype=object)
        elif col.type == "int":
            if src.format == "csv":
                cell = np.array([str(int(x)) if x >= 0 else "" for x in v], dtype=object)
            else:
                cell = np.array([int(x) if x >= 0 else None for x in v], dtype=object)
        elif col.type == "decimal":
            cell = _amount_cells(v, rng, prof)
        else:  # pragma: no cover - every declared type is handled above
            raise ValueError(col.type)
        out[col.field] = cell
    # dtype=object: pandas 3 would infer `str` and turn None (blank cells) into NaN.
    df = pd.DataFrame(out, dtype=object)
    if source == "cases":
        # Resident IDs ending in X are sometimes typed with a lower-case x (reads as X).
        pid = df["party_id"].to_numpy(dtype=object)
        person = (canon["party_type"] == "个人").to_numpy()
        ends_x = np.array([isinstance(v, str) and v.endswith("X") for v in pid])
        low = np.flatnonzero(person & ends_x & (rng.random(len(pid)) < 0.4))
        for i in low:
            df.iat[i, df.columns.get_loc("party_id")] = pid[i][:-1] + "x"
    if source == "ip_stats":
        # The city's figures are the big ones: some months print them with separators.
        city = (canon["region"] == "江门市").to_numpy()
        if spec.start.month % 4 == 2:
            for c in src.columns:
                if c.type == "int":
                    df.loc[city, c.field] = [f"{int(x):,}" for x in canon.loc[city, c.field]]
    return df


def _amount_cells(cents: np.ndarray, rng: np.random.Generator, prof: Profile) -> np.ndarray:
    n = len(cents)
    cell = np.empty(n, dtype=object)
    blank = cents < 0
    zero = cents == 0
    text = rng.random(n) < prof.amount_text
    num = ~blank & ~text
    cell[num] = spell.cents_number(cents[num])
    tx = ~blank & text
    cell[tx] = spell.cents_text(cents[tx], rng.random(int(tx.sum())) < 0.8)
    cell[blank] = None
    cell[zero & (rng.random(n) < prof.blank_zero)] = None
    return cell


# ---------------------------------------------------------------------------------------------
# Keys of extra rows.


def key_maker(source: str, spec: FileSpec) -> Callable[[int], str]:
    """The key of the row numbered `seq` in this file (same scheme as rows.py)."""
    y, m = spec.start.year, spec.start.month
    return {
        "registration": lambda s: f"DJ{y}{m:02d}{s:05d}",
        "food_license": lambda s: f"SP{y}{m:02d}{s:04d}",
        "special_equipment": lambda s: f"TS{y}{m:02d}{s:04d}",
        "medical_device": lambda s: f"YX{y}{m:02d}{s:03d}",
        "cases": lambda s: f"江蓬市监处罚〔{y}〕{s}号",
        "inspections": lambda s: f"JC{y}{s:06d}",
        "ip_cases": lambda s: f"ZC{y}Q{(m - 1) // 3 + 1}{s:03d}",
        "ip_pledge": lambda s: f"ZY{y}H{1 if m == 1 else 2}{s:03d}",
    }[source]


# ---------------------------------------------------------------------------------------------
# Rejected rows: (field, bad value) per reason and source; None means "handled in code".

BAD_ENUM = {
    "registration": ("txn_type", "设立"),
    "food_license": ("outcome", "准予"),
    "special_equipment": ("status", "已核准"),
    "medical_device": ("status", "办结"),
    "cases": ("category", "食品安全"),
    "inspections": ("method", "飞行检查"),
    "ip_cases": ("kind", "专利纠纷"),
    "ip_pledge": ("collateral", "著作权"),
}
MISSING = {
    "registration": "entity_name",
    "food_license": "operator_name",
    "medical_device": "company_name",
    "cases": "discretion",  # a closed case without its discretion
    "inspections": "random_task_no",  # a 双随机 inspection without its task
    "ip_cases": "status",
    "ip_pledge": "pledgor",
}


@dataclass
class Extras:
    rows: pd.DataFrame  # canonical values, plus `_reason`
    overrides: list[tuple[int, str, Any]]  # (row position in `rows`, field, raw cell value)


def _pick_row(canon: pd.DataFrame, rng: np.random.Generator, mask: np.ndarray | None = None) -> int:
    idx = np.flatnonzero(mask) if mask is not None and mask.any() else np.arange(len(canon))
    return int(rng.choice(idx))


def reject_rows(
    source: str, canon: pd.DataFrame, spec: FileSpec, rng: np.random.Generator, first_seq: int
) -> Extras:
    """One extra row per planned reason, each a copy of a counted row under a new key."""
    src = SOURCES[source]
    key = src.key_fields[0] if src.key_fields else None
    make_key = key_maker(source, spec) if source != "ip_stats" else None
    part = src.partition_field
    rows: list[pd.Series] = []
    reasons: list[str] = []
    overrides: list[tuple[int, str, Any]] = []
    seq = first_seq
    if canon.empty:
        return Extras(canon.assign(_reason=[]), [])
    for reason in spec.rejects:
        mask = None
        if source == "special_equipment" and reason in ("missing_required", "out_of_period"):
            mask = (canon["status"] == "核准").to_numpy()
        if source == "cases" and reason == "missing_required":
            mask = (canon["status"] == "已结案").to_numpy()
        if source == "inspections" and reason == "missing_required":
            mask = (canon["method"] == "双随机抽查").to_numpy()
        if source == "food_license" and reason == "rule_violation":
            mask = (canon["outcome"] == "准予许可").to_numpy()
        row = canon.iloc[_pick_row(canon, rng, mask)].copy()
        assert key is not None and make_key is not None
        row[key] = make_key(seq)
        seq += 1
        pos = len(rows)
        if reason == "out_of_period":
            after = np.datetime64(spec.end) + np.timedelta64(int(rng.integers(1, 4)), "D")
            if source == "special_equipment":
                # Approved at 00:39 on the next month's first day (UTC: still this month).
                row["decided_on"] = int(
                    local_to_epoch_ms(np.array([np.datetime64(spec.end) + 1]), np.array([39]))[0]
                )
            else:
                row[part] = after
                if source == "cases" and not pd.isna(row["closed_on"]):
                    row["closed_on"] = max(row["closed_on"], after)
        elif reason == "rule_violation":
            if source == "registration":
                row["applied_on"] = row["approved_on"] + np.timedelta64(2, "D")
            elif source == "food_license":
                overrides.append((pos, "license_no", "JY" + codes.REGION_CODE + "0012"))
            elif source == "ip_pledge":
                overrides.append((pos, "amount_wan", "0.00"))
            elif source == "special_equipment":
                overrides.append((pos, "units", 0))
            else:
                overrides.append((pos, part, ""))
        elif reason == "bad_date":
            bad = f"{spec.start.year}-02-30" if src.format != "json" else "2024-02-30"
            overrides.append((pos, part, bad))
        elif reason == "bad_enum":
            f, bad = BAD_ENUM[source]
            overrides.append((pos, f, bad))
        elif reason == "missing_required":
            if source == "special_equipment":
                row["decided_on"] = -1  # 核准 without its decision date
            else:
                overrides.append((pos, MISSING[source], ""))
        elif reason == "bad_check_digit":
            if source == "cases":
                pid = str(row["party_id"])
                if row["party_type"] == "个人":
                    wrong = codes.ID_CHECK[(codes.ID_CHECK.index(pid[17].upper()) + 1) % 11]
                    overrides.append((pos, "party_id", pid[:17] + wrong))
                else:
                    overrides.append((pos, "party_id", codes.break_uscc(np.array([pid]))[0]))
            elif source == "inspections":
                code = str(row["target_code"])
                overrides.append((pos, "target_code", code[:10] + "O" + code[11:]))
            else:
                overrides.append((pos, "uscc", codes.break_uscc(np.array([row["uscc"]]))[0]))
        elif reason == "conflicting_key":
            twin = row.copy()
            if source == "registration":
                twin["channel"] = "窗口办理" if row["channel"] == "网上办理" else "网上办理"
            elif source == "cases":
                twin["handling_unit"] = (
                    "稽查大队" if row["handling_unit"] != "稽查大队" else "环市市场监督管理所"
                )
            else:
                other = [c.field for c in src.columns if c.type == "text" and not c.key][0]
                twin[other] = str(row[other]) + "分店"
            rows.append(row)
            reasons.append(reason)
            rows.append(twin)
            reasons.append(reason)
            continue
        rows.append(row)
        reasons.append(reason)
    extras = pd.DataFrame(rows).reset_index(drop=True) if rows else canon.iloc[0:0].copy()
    extras["_reason"] = reasons
    return Extras(extras, overrides)


def apply_overrides(
    rendered: pd.DataFrame, offset: int, overrides: list[tuple[int, str, Any]]
) -> None:
    for pos, fld, value in overrides:
        rendered.at[offset + pos, fld] = value


# ---------------------------------------------------------------------------------------------
# First versions of corrected periods.


def superseded(
    source: str, canon: pd.DataFrame, spec: FileSpec, rng: np.random.Generator, first_seq: int
) -> pd.DataFrame:
    """What the first delivery said before the correction: rows missing, changed, withdrawn."""
    v1 = canon.copy()
    n = len(v1)
    if source == "ip_stats":
        pj = v1["region"] == "蓬江区"
        # A transposition typo in the district's trademark stock (33196 -> 33169).
        v1.loc[pj, "valid_trademarks"] = [
            _transpose(int(x)) for x in v1.loc[pj, "valid_trademarks"]
        ]
        city = v1["region"] == "江门市"
        v1.loc[city, "patents_granted_ytd"] = v1.loc[city, "patents_granted_ytd"] - 12
        return v1
    src = SOURCES[source]
    key = src.key_fields[0]
    make_key = key_maker(source, spec)
    # Late entries: rows the first export did not have yet.
    keep = np.ones(n, dtype=bool)
    keep[rng.choice(n, size=max(1, n * 3 // 100), replace=False)] = False
    # Reclassified afterwards.
    changed = rng.choice(n, size=max(1, n // 100), replace=False)
    if source == "registration":
        tt = v1["txn_type"].to_numpy(dtype=object)
        tt[changed] = np.where(tt[changed] == "变更登记", "备案", "变更登记")
        v1["txn_type"] = tt
        ch = v1["channel"].to_numpy(dtype=object)
        flip = rng.choice(n, size=max(1, n // 100), replace=False)
        ch[flip] = np.where(ch[flip] == "网上办理", "窗口办理", "网上办理")
        v1["channel"] = ch
    elif source == "cases":
        cat = v1["category"].to_numpy(dtype=object)
        cat[changed] = np.where(cat[changed] == "食品", "其他", "食品")
        v1["category"] = cat
        closed = np.flatnonzero((v1["status"] == "已结案").to_numpy())
        reopen = rng.choice(closed, size=min(len(closed), 2), replace=False)
        v1.loc[reopen, "status"] = "调查中"
        v1.loc[reopen, "closed_on"] = NAT
        v1.loc[reopen, "discretion"] = ""
        v1.loc[reopen, "penalty_yuan"] = -1
    # Withdrawn afterwards: rows only the first version has.
    k = max(1, n // 100)
    gone = v1.iloc[rng.choice(n, size=k, replace=False)].copy()
    gone[key] = [make_key(first_seq + i) for i in range(k)]
    v1 = pd.concat([v1[keep], gone], ignore_index=True)
    part = src.partition_field
    tie = rng.random(len(v1))
    return v1.iloc[np.lexsort((tie, v1[part].to_numpy()))].reset_index(drop=True)


def _transpose(x: int) -> int:
    s = str(x)
    return int(s[:-2] + s[-1] + s[-2]) if len(s) >= 2 and s[-1] != s[-2] else x + 9


def source_of(code: str) -> Source:
    return SOURCES[code]


def excel_datetime(value: Any) -> bool:
    return isinstance(value, datetime)
