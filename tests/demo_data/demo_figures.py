"""The reference figures recomputed from extracted batches with plain pandas.

Independent of the warehouse and of the metric engine on purpose: it checks the *data*
(accepted rows, supersession by newer versions) against metrics.md definitions.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from connectors.batch import ExtractedBatch


def current_rows(batches: list[ExtractedBatch]) -> dict[str, pd.DataFrame]:
    """Per source, the accepted rows of the newest file covering each partition date.

    Newest = delivered later; for files seen in one run: by period end, start, version.
    """
    out: dict[str, pd.DataFrame] = {}
    by_source: dict[str, list[ExtractedBatch]] = {}
    for b in batches:
        if b.verdict == "readable":
            by_source.setdefault(b.source, []).append(b)
    for source, items in by_source.items():
        items.sort(key=lambda b: (b.file.period_end, b.file.period_start, b.file.version))
        owner: dict[date, int] = {}
        for i, b in enumerate(items):
            for d in pd.date_range(b.file.period_start, b.file.period_end).date:
                owner[d] = i
        frames = []
        for i, b in enumerate(items):
            acc = b.accepted_frame()
            if len(acc):
                mine = [owner.get(d) == i for d in acc["partition_date"]]
                frames.append(acc[mine])
        out[source] = pd.concat(frames, ignore_index=True)
    return out


def _in(df: pd.DataFrame, col: str, start: date, end: date) -> pd.DataFrame:
    d = df[col]
    return df[d.notna() & (d >= start) & (d <= end)]


def _pct(num: int, den: int) -> Decimal:
    return (Decimal(100) * Decimal(num) / Decimal(den)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def figures(rows: dict[str, pd.DataFrame], year: int, region: str = "蓬江区") -> dict[str, object]:
    """The reference metrics, each at its reference as-of date."""
    y0, y1 = date(year, 1, 1), date(year, 12, 31)
    f: dict[str, object] = {}
    reg = _in(rows["registration"], "approved_on", y0, y1)
    for code, t in (
        ("reg.establish", "设立登记"),
        ("reg.change", "变更登记"),
        ("reg.migrate_in", "迁入登记"),
    ):
        f[code] = int((reg.txn_type == t).sum())
    f["reg.establish.online"] = int(
        ((reg.txn_type == "设立登记") & (reg.channel == "网上办理")).sum()
    )
    f["reg.change.online"] = int(((reg.txn_type == "变更登记") & (reg.channel == "网上办理")).sum())
    f["reg.establish.online_share"] = _pct(f["reg.establish.online"], f["reg.establish"])  # type: ignore[arg-type]

    food = _in(rows["food_license"], "concluded_on", y0, y1)
    granted = food[food.outcome == "准予许可"]
    f["food.issued"] = int(granted.matter.isin(["新办", "变更", "补发", "延续"]).sum())
    for code, m in (
        ("food.issued.new", "新办"),
        ("food.issued.change", "变更"),
        ("food.issued.reissue", "补发"),
        ("food.issued.renewal", "延续"),
        ("food.cancelled", "注销"),
    ):
        f[code] = int((granted.matter == m).sum())

    se = _in(rows["special_equipment"], "decided_on", y0, y1)
    f["seq.approved_units"] = int(se[se.status == "核准"].units.sum())
    dev = _in(rows["medical_device"], "accepted_on", y0, y1)
    f["device.accepted"] = int((dev.status != "不予受理").sum())

    cases = rows["cases"]
    filed_asof = _in(cases, "filed_on", y0, date(year, 12, 27))
    filed_asof = filed_asof[filed_asof.status != "已撤销"]
    f["cases.filed"] = len(filed_asof)
    filed = _in(cases, "filed_on", y0, y1)
    filed = filed[filed.status != "已撤销"]
    f["cases.to_police"] = int(filed.to_police.astype(bool).sum())
    closed = _in(cases[cases.status == "已结案"], "closed_on", y0, y1)
    f["cases.closed.food"] = int((closed.category == "食品").sum())
    f["cases.closed.drug_cosmetic_device"] = int(
        closed.category.isin(["药品", "化妆品", "医疗器械"]).sum()
    )
    f["cases.closed.quality"] = int((closed.category == "产品质量").sum())
    f["cases.closed.special_equipment"] = int((closed.category == "特种设备").sum())
    f["cases.mitigated"] = int((closed.discretion == "减轻").sum())
    f["cases.exempted"] = int((closed.discretion == "免予处罚").sum())
    tob = filed[filed.campaign == "无证经营烟草专项"]
    f["cases.tobacco"] = len(tob)
    f["cases.tobacco.general"] = int((tob.procedure == "一般程序").sum())
    f["cases.frozen_goods"] = int((filed.campaign == "冻品走私联合检查").sum())

    ins = _in(rows["inspections"], "inspected_on", y0, y1)
    for code, t in (
        ("insp.drug_retail", "药品零售企业"),
        ("insp.drug_user", "药品使用单位"),
        ("insp.device_trade", "医疗器械经营企业"),
        ("insp.device_user", "医疗器械使用单位"),
        ("insp.device_maker", "医疗器械生产企业"),
    ):
        f[code] = int((ins.target_type == t).sum())
    rnd = ins[ins.method == "双随机抽查"]
    f["random.tasks"] = int(rnd.random_task_no.nunique())
    f["random.market_entities"] = int(rnd[rnd.is_market_entity.astype(bool)].target_code.nunique())
    f["random.non_market_entities"] = int(
        rnd[~rnd.is_market_entity.astype(bool)].target_code.nunique()
    )
    for short, c in (
        ("fuel", "加油机作弊专项"),
        ("tobacco", "无证经营烟草专项"),
        ("bbq", "烧烤餐饮安全整治"),
        ("frozen", "冻品走私联合检查"),
    ):
        sel = ins[ins.campaign == c]
        f[f"campaign.{short}.rounds"] = int(sel.campaign_round.nunique())
        f[f"campaign.{short}.officers"] = int(sel.officers.sum())
        f[f"campaign.{short}.sites"] = len(sel)

    ip = rows["ip_stats"]
    ip = ip[ip.region == region]
    oct_, before = date(year, 10, 1), date(year - 1, 10, 1)
    now = ip[ip.month == oct_].iloc[0]
    prev = ip[ip.month == before].iloc[0]
    f["ip.patents_granted"] = int(now.patents_granted_ytd)
    f["ip.valid_invention"] = int(now.valid_invention_patents)
    f["ip.valid_trademarks"] = int(now.valid_trademarks)
    f["ip.valid_invention.yoy"] = (
        Decimal(100)
        * (
            Decimal(int(now.valid_invention_patents)) / Decimal(int(prev.valid_invention_patents))
            - 1
        )
    ).quantize(Decimal("0.01"), ROUND_HALF_UP)

    ipc = _in(rows["ip_cases"], "received_on", y0, y1)
    admitted = ipc[ipc.status != "不予立案"]
    f["ipcase.patent_dispute"] = int((admitted.kind == "专利侵权纠纷").sum())
    f["ipcase.trademark"] = int((admitted.kind == "商标侵权").sum())
    f["ipcase.counterfeit_patent"] = int((admitted.kind == "假冒专利").sum())
    f["ipcase.ecommerce_leads"] = int((ipc.kind == "电商平台线索").sum())
    pl = _in(rows["ip_pledge"], "registered_on", y0, y1)
    f["pledge.count"] = len(pl)
    total = sum((Decimal(str(x)) for x in pl.amount_wan), Decimal(0))
    f["pledge.amount_yi"] = (total / Decimal(10000)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f
