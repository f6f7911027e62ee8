"""Every metric of metrics.md against a tiny warehouse where its filter matters.

Each case is written from the normative text (not from catalog.yaml): rows that must count
beside rows that must not (wrong value of each filtered field, date outside the window).
The expected value is what metrics.md says the rows give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from tiny_warehouse import add_rows

from metrics.catalog import load_catalog
from metrics.engine import compute_metrics

IN = date(2024, 6, 15)  # inside the 2024 window
BEFORE = date(2023, 12, 31)  # the day before the window
AFTER = date(2025, 1, 1)  # the day after the window


@dataclass(frozen=True)
class Case:
    code: str
    source: str
    counted: list[dict[str, Any]]
    not_counted: list[dict[str, Any]]
    expected: int | Decimal | None
    base: dict[str, Any] = field(default_factory=dict)


def reg(txn: str, channel: str = "窗口办理", on: date = IN) -> dict[str, Any]:
    return {"txn_type": txn, "channel": channel, "approved_on": on, "applied_on": on}


def food(outcome: str, matter: str, on: date = IN) -> dict[str, Any]:
    return {"outcome": outcome, "matter": matter, "concluded_on": on, "accepted_on": on}


def case_row(
    status: str, filed: date = IN, closed: date | None = None, **kw: Any
) -> dict[str, Any]:
    if status == "已结案" and closed is None:
        closed = IN
    return {"status": status, "filed_on": filed, "closed_on": closed, "to_police": False, **kw}


def insp(on: date = IN, **kw: Any) -> dict[str, Any]:
    row = {"inspected_on": on, "method": "日常检查", "officers": 2, "is_market_entity": True}
    return {**row, **kw}


def rnd(task: str, code: str, market: bool = True, on: date = IN) -> dict[str, Any]:
    return insp(
        on, method="双随机抽查", random_task_no=task, target_code=code, is_market_entity=market
    )


def camp(name: str | None, round_no: int | None = 1, on: date = IN, **kw: Any) -> dict[str, Any]:
    return insp(on, method="专项检查", campaign=name, campaign_round=round_no, **kw)


def ipcase(kind: str, status: str = "已立案", on: date = IN) -> dict[str, Any]:
    return {"kind": kind, "status": status, "received_on": on}


def ipstat(region: str, month: date, **kw: Any) -> dict[str, Any]:
    values = {"patents_granted_ytd": 1, "valid_invention_patents": 1, "valid_trademarks": 1}
    return {"region": region, "month": month, **values, **kw}


FUEL, TOBACCO, BBQ, FROZEN = (
    "加油机作弊专项",
    "无证经营烟草专项",
    "烧烤餐饮安全整治",
    "冻品走私联合检查",
)
PJ, JH = "蓬江区", "江海区"

CASES = [
    # ------------------------------------------------------------------ licensing
    Case(
        "reg.establish",
        "registration",
        [reg("设立登记"), reg("设立登记", "网上办理")],
        [reg("变更登记"), reg("设立登记", on=BEFORE), reg("设立登记", on=AFTER)],
        2,
    ),
    Case(
        "reg.establish.online",
        "registration",
        [reg("设立登记", "网上办理")],
        [
            reg("设立登记", "窗口办理"),
            reg("变更登记", "网上办理"),
            reg("设立登记", "网上办理", AFTER),
        ],
        1,
    ),
    Case(
        "reg.change",
        "registration",
        [reg("变更登记"), reg("变更登记", "网上办理")],
        [reg("设立登记"), reg("迁入登记"), reg("变更登记", on=BEFORE)],
        2,
    ),
    Case(
        "reg.change.online",
        "registration",
        [reg("变更登记", "网上办理")],
        [
            reg("变更登记", "窗口办理"),
            reg("设立登记", "网上办理"),
            reg("变更登记", "网上办理", AFTER),
        ],
        1,
    ),
    Case(
        "reg.migrate_in",
        "registration",
        [reg("迁入登记")],
        [reg("迁出登记"), reg("迁入登记", on=AFTER)],
        1,
    ),
    Case(
        "reg.deregister",
        "registration",
        [reg("注销登记"), reg("注销登记", "网上办理")],
        [reg("备案"), reg("注销登记", on=BEFORE)],
        2,
    ),
    Case(
        "food.issued",
        "food_license",
        [
            food("准予许可", "新办"),
            food("准予许可", "变更"),
            food("准予许可", "补发"),
            food("准予许可", "延续"),
        ],
        [
            food("准予许可", "注销"),
            food("不予许可", "新办"),
            food("申请人撤回", "变更"),
            food("准予许可", "新办", AFTER),
        ],
        4,
    ),
    Case(
        "food.issued.new",
        "food_license",
        [food("准予许可", "新办")],
        [food("准予许可", "变更"), food("不予许可", "新办"), food("准予许可", "新办", BEFORE)],
        1,
    ),
    Case(
        "food.issued.change",
        "food_license",
        [food("准予许可", "变更")],
        [food("准予许可", "新办"), food("申请人撤回", "变更"), food("准予许可", "变更", AFTER)],
        1,
    ),
    Case(
        "food.issued.reissue",
        "food_license",
        [food("准予许可", "补发")],
        [food("准予许可", "延续"), food("不予许可", "补发"), food("准予许可", "补发", BEFORE)],
        1,
    ),
    Case(
        "food.issued.renewal",
        "food_license",
        [food("准予许可", "延续")],
        [food("准予许可", "补发"), food("不予许可", "延续"), food("准予许可", "延续", AFTER)],
        1,
    ),
    Case(
        "food.cancelled",
        "food_license",
        [food("准予许可", "注销")],
        [food("不予许可", "注销"), food("准予许可", "新办"), food("准予许可", "注销", BEFORE)],
        1,
    ),
    Case(
        "seq.approved_units",
        "special_equipment",
        [
            {"status": "核准", "units": 3, "decided_on": IN, "applied_on": IN},
            {"status": "核准", "units": 4, "decided_on": IN, "applied_on": BEFORE},
        ],
        [
            {"status": "退回", "units": 5, "decided_on": IN, "applied_on": IN},
            {"status": "审核", "units": 6, "decided_on": None, "applied_on": IN},
            {"status": "核准", "units": 7, "decided_on": AFTER, "applied_on": IN},
        ],
        7,
    ),
    Case(
        "device.accepted",
        "medical_device",
        [
            {"status": "已受理", "accepted_on": IN},
            {"status": "已办结", "accepted_on": IN},
            {"status": "退回补正", "accepted_on": IN},
        ],
        [{"status": "不予受理", "accepted_on": IN}, {"status": "已受理", "accepted_on": BEFORE}],
        3,
    ),
    # ---------------------------------------------------------------- enforcement
    Case(
        "cases.filed",
        "cases",
        [case_row("已立案"), case_row("调查中"), case_row("已结案", closed=AFTER)],
        [case_row("已撤销"), case_row("已立案", filed=BEFORE), case_row("调查中", filed=AFTER)],
        3,
    ),
    Case(
        "cases.to_police",
        "cases",
        [case_row("调查中", to_police=True)],
        [
            case_row("调查中"),
            case_row("已撤销", to_police=True),
            case_row("已立案", filed=AFTER, to_police=True),
        ],
        1,
    ),
    Case(
        "cases.closed.food",
        "cases",
        [case_row("已结案", category="食品"), case_row("已结案", filed=BEFORE, category="食品")],
        [
            case_row("已结案", category="药品"),
            case_row("调查中", category="食品"),
            case_row("已结案", closed=AFTER, category="食品"),
        ],
        2,
    ),
    Case(
        "cases.closed.drug_cosmetic_device",
        "cases",
        [case_row("已结案", category=c) for c in ("药品", "化妆品", "医疗器械")],
        [
            case_row("已结案", category="食品"),
            case_row("已立案", category="药品"),
            case_row("已结案", filed=BEFORE, closed=BEFORE, category="化妆品"),
        ],
        3,
    ),
    Case(
        "cases.closed.quality",
        "cases",
        [case_row("已结案", category="产品质量")],
        [
            case_row("已结案", category="计量"),
            case_row("调查中", category="产品质量"),
            case_row("已结案", closed=AFTER, category="产品质量"),
        ],
        1,
    ),
    Case(
        "cases.closed.special_equipment",
        "cases",
        [case_row("已结案", category="特种设备")],
        [
            case_row("已结案", category="其他"),
            case_row("已撤销", category="特种设备"),
            case_row("已结案", closed=AFTER, category="特种设备"),
        ],
        1,
    ),
    Case(
        "cases.mitigated",
        "cases",
        [
            case_row("已结案", category="食品", discretion="减轻"),
            case_row("已结案", category="价格", discretion="减轻"),
        ],
        [
            case_row("已结案", discretion="从轻"),
            case_row("调查中", discretion="减轻"),
            case_row("已结案", closed=AFTER, discretion="减轻"),
        ],
        2,
    ),
    Case(
        "cases.exempted",
        "cases",
        [case_row("已结案", category="广告", discretion="免予处罚")],
        [
            case_row("已结案", discretion="不予处罚"),
            case_row("已结案", closed=AFTER, discretion="免予处罚"),
        ],
        1,
    ),
    Case(
        "cases.tobacco",
        "cases",
        [case_row("已立案", campaign=TOBACCO), case_row("已结案", campaign=TOBACCO)],
        [
            case_row("已撤销", campaign=TOBACCO),
            case_row("已立案", campaign=FROZEN),
            case_row("已立案", campaign=None),
            case_row("已立案", filed=AFTER, campaign=TOBACCO),
        ],
        2,
    ),
    Case(
        "cases.tobacco.general",
        "cases",
        [case_row("已立案", campaign=TOBACCO, procedure="一般程序")],
        [
            case_row("已立案", campaign=TOBACCO, procedure="简易程序"),
            case_row("已立案", campaign=None, procedure="一般程序"),
            case_row("已撤销", campaign=TOBACCO, procedure="一般程序"),
        ],
        1,
    ),
    Case(
        "cases.frozen_goods",
        "cases",
        [case_row("调查中", campaign=FROZEN)],
        [
            case_row("已撤销", campaign=FROZEN),
            case_row("调查中", campaign=TOBACCO),
            case_row("调查中", filed=BEFORE, campaign=FROZEN),
        ],
        1,
    ),
    Case(
        "cases.penalty_wan",
        "cases",
        [
            case_row("已结案", penalty_yuan=Decimal("12345.67")),
            case_row("已结案", filed=BEFORE, penalty_yuan=Decimal("0.01")),
            case_row("已结案", penalty_yuan=None),
        ],
        [
            case_row("调查中", penalty_yuan=Decimal("99999")),
            case_row("已结案", closed=AFTER, penalty_yuan=Decimal("50000")),
        ],
        Decimal("1.23"),
    ),  # 12345.68 / 10000 = 1.234568
    Case(
        "insp.drug_retail",
        "inspections",
        [insp(target_type="药品零售企业")],
        [insp(target_type="药品使用单位"), insp(AFTER, target_type="药品零售企业")],
        1,
    ),
    Case(
        "insp.drug_user",
        "inspections",
        [insp(target_type="药品使用单位")],
        [insp(target_type="药品零售企业"), insp(BEFORE, target_type="药品使用单位")],
        1,
    ),
    Case(
        "insp.device_trade",
        "inspections",
        [insp(target_type="医疗器械经营企业")],
        [insp(target_type="医疗器械使用单位"), insp(AFTER, target_type="医疗器械经营企业")],
        1,
    ),
    Case(
        "insp.device_user",
        "inspections",
        [insp(target_type="医疗器械使用单位")],
        [insp(target_type="医疗器械生产企业"), insp(BEFORE, target_type="医疗器械使用单位")],
        1,
    ),
    Case(
        "insp.device_maker",
        "inspections",
        [insp(target_type="医疗器械生产企业")],
        [insp(target_type="医疗器械经营企业"), insp(AFTER, target_type="医疗器械生产企业")],
        1,
    ),
    Case(
        "random.tasks",
        "inspections",
        [rnd("T1", "A"), rnd("T1", "B"), rnd("T2", "C")],
        [insp(random_task_no=None), rnd("T3", "D", on=AFTER), rnd("T4", "E", on=BEFORE)],
        2,
    ),
    Case(
        "random.market_entities",
        "inspections",
        [rnd("T1", "A"), rnd("T2", "A"), rnd("T1", "B")],
        [rnd("T1", "C", market=False), insp(target_code="D"), rnd("T1", "E", on=AFTER)],
        2,
    ),
    Case(
        "random.non_market_entities",
        "inspections",
        [rnd("T1", "C", market=False), rnd("T2", "C", market=False)],
        [
            rnd("T1", "A"),
            insp(target_code="F", is_market_entity=False),
            rnd("T1", "G", market=False, on=BEFORE),
        ],
        1,
    ),
    Case(
        "campaign.fuel.rounds",
        "inspections",
        [camp(FUEL, 1), camp(FUEL, 1), camp(FUEL, 2)],
        [camp(BBQ, 3), camp(FUEL, 4, on=AFTER), camp(None, None)],
        2,
    ),
    Case(
        "campaign.fuel.officers",
        "inspections",
        [camp(FUEL, 1, officers=3), camp(FUEL, 2, officers=4)],
        [camp(BBQ, 1, officers=10), camp(FUEL, 1, on=AFTER, officers=20)],
        7,
    ),
    Case(
        "campaign.fuel.sites",
        "inspections",
        [camp(FUEL, 1, target_type="加油站"), camp(FUEL, 1, target_type="其他")],
        [camp(None, None, target_type="加油站"), camp(FUEL, 2, on=BEFORE, target_type="加油站")],
        2,
    ),
    Case(
        "campaign.tobacco.rounds",
        "inspections",
        [camp(TOBACCO, 1), camp(TOBACCO, 3)],
        [camp(FUEL, 2), camp(TOBACCO, 4, on=AFTER)],
        2,
    ),
    Case(
        "campaign.tobacco.officers",
        "inspections",
        [camp(TOBACCO, 1, officers=12), camp(TOBACCO, 1, officers=9)],
        [camp(FROZEN, 1, officers=5), camp(TOBACCO, 2, on=BEFORE, officers=30)],
        21,
    ),
    Case(
        "campaign.bbq.rounds",
        "inspections",
        [camp(BBQ, 1), camp(BBQ, 2), camp(BBQ, 2)],
        [camp(FUEL, 3), camp(BBQ, 5, on=AFTER)],
        2,
    ),
    Case(
        "campaign.bbq.officers",
        "inspections",
        [camp(BBQ, 1, officers=6)],
        [camp(TOBACCO, 1, officers=8), camp(BBQ, 2, on=AFTER, officers=9)],
        6,
    ),
    Case(
        "campaign.bbq.sites",
        "inspections",
        [camp(BBQ, 1, target_type="烧烤店"), camp(BBQ, 2, target_type="食品经营者")],
        [camp(None, None, target_type="烧烤店"), camp(BBQ, 1, on=BEFORE, target_type="烧烤店")],
        2,
    ),
    Case(
        "campaign.frozen.rounds",
        "inspections",
        [camp(FROZEN, 1), camp(FROZEN, 2)],
        [camp(TOBACCO, 3), camp(FROZEN, 3, on=AFTER)],
        2,
    ),
    # ------------------------------------------------------------------------- IP
    Case(
        "ip.patents_granted",
        "ip_stats",
        [ipstat(PJ, date(2024, 5, 1), patents_granted_ytd=50)],
        [
            ipstat(PJ, date(2024, 4, 1), patents_granted_ytd=40),
            ipstat(JH, date(2024, 6, 1), patents_granted_ytd=99),
            ipstat(PJ, date(2025, 1, 1), patents_granted_ytd=5),
        ],
        50,
    ),
    Case(
        "ip.valid_invention",
        "ip_stats",
        [ipstat(PJ, date(2024, 12, 1), valid_invention_patents=1788)],
        [
            ipstat(PJ, date(2024, 11, 1), valid_invention_patents=1773),
            ipstat(JH, date(2024, 12, 1), valid_invention_patents=711),
            ipstat(PJ, date(2023, 12, 1), valid_invention_patents=1648),
        ],
        1788,
    ),
    Case(
        "ip.valid_trademarks",
        "ip_stats",
        [ipstat(PJ, date(2024, 3, 1), valid_trademarks=31240)],
        [
            ipstat(JH, date(2024, 4, 1), valid_trademarks=12000),
            ipstat(PJ, date(2023, 12, 1), valid_trademarks=31029),
        ],
        31240,
    ),
    Case(
        "ipcase.patent_dispute",
        "ip_cases",
        [ipcase("专利侵权纠纷"), ipcase("专利侵权纠纷", "已办结")],
        [ipcase("专利侵权纠纷", "不予立案"), ipcase("商标侵权"), ipcase("专利侵权纠纷", on=AFTER)],
        2,
    ),
    Case(
        "ipcase.trademark",
        "ip_cases",
        [ipcase("商标侵权", "核查中")],
        [ipcase("商标侵权", "不予立案"), ipcase("假冒专利"), ipcase("商标侵权", on=BEFORE)],
        1,
    ),
    Case(
        "ipcase.counterfeit_patent",
        "ip_cases",
        [ipcase("假冒专利")],
        [ipcase("假冒专利", "不予立案"), ipcase("电商平台线索"), ipcase("假冒专利", on=AFTER)],
        1,
    ),
    Case(
        "ipcase.ecommerce_leads",
        "ip_cases",
        [ipcase("电商平台线索", "核查中"), ipcase("电商平台线索", "不予立案")],
        [ipcase("商标侵权", "核查中"), ipcase("电商平台线索", on=AFTER)],
        2,
    ),
    Case(
        "pledge.count",
        "ip_pledge",
        [{"registered_on": IN, "amount_wan": Decimal("100")}, {"registered_on": date(2024, 1, 1)}],
        [{"registered_on": BEFORE, "amount_wan": Decimal("100")}, {"registered_on": AFTER}],
        2,
    ),
    Case(
        "pledge.amount_yi",
        "ip_pledge",
        [
            {"registered_on": IN, "amount_wan": Decimal("12345.6789")},
            {"registered_on": date(2024, 12, 31), "amount_wan": Decimal("0.5")},
        ],
        [
            {"registered_on": BEFORE, "amount_wan": Decimal("1000")},
            {"registered_on": AFTER, "amount_wan": Decimal("1000")},
        ],
        Decimal("1.23"),
    ),  # 12346.1789 / 10000
]

# Derived metrics, each with the rows its components need.
DERIVED = [
    (
        "reg.establish.online_share",
        "registration",
        [
            reg("设立登记", "网上办理"),
            reg("设立登记", "网上办理"),
            reg("设立登记"),
            reg("变更登记", "网上办理"),
            reg("设立登记", on=AFTER),
        ],
        Decimal("66.67"),
    ),  # 100 × 2 / 3
    (
        "ip.valid_invention.yoy",
        "ip_stats",
        [
            ipstat(PJ, date(2024, 10, 1), valid_invention_patents=1100),
            ipstat(PJ, date(2023, 10, 1), valid_invention_patents=1000),
            ipstat(PJ, date(2023, 12, 1), valid_invention_patents=500),
            ipstat(JH, date(2023, 10, 1), valid_invention_patents=10),
        ],
        Decimal("10.00"),
    ),  # 100 × (1100 / 1000 − 1)
]


def test_every_metric_has_a_case() -> None:
    """The offices' figures have theirs in test_manual_figures.py (one rule for all of them)."""
    from connectors.sources import MANUAL_CODES

    covered = {c.code for c in CASES} | {d[0] for d in DERIVED} | set(MANUAL_CODES)
    assert covered == set(load_catalog().codes)


@pytest.mark.parametrize("case", CASES, ids=[c.code for c in CASES])
def test_filter_counts_only_matching_rows(tiny: Engine, case: Case) -> None:
    add_rows(tiny, case.source, case.counted + case.not_counted)
    value = compute_metrics(tiny, 2024, codes=[case.code])[case.code]
    assert value == case.expected
    assert type(value) is type(case.expected)


@pytest.mark.parametrize("case", CASES, ids=[c.code for c in CASES])
def test_excluded_rows_alone_count_nothing(tiny_sqlite: Engine, case: Case) -> None:
    add_rows(tiny_sqlite, case.source, case.not_counted)
    value = compute_metrics(tiny_sqlite, 2024, codes=[case.code])[case.code]
    if case.source == "ip_stats":
        # latest-month figures take the newest qualifying month; what must not be reported
        # is any of the excluded rows' values when they are not that month
        assert value != case.expected
    else:
        assert value == 0


@pytest.mark.parametrize(
    ("code", "source", "rows", "expected"), DERIVED, ids=[d[0] for d in DERIVED]
)
def test_derived_metrics(
    tiny: Engine, code: str, source: str, rows: list[dict[str, Any]], expected: Decimal
) -> None:
    add_rows(tiny, source, rows)
    assert compute_metrics(tiny, 2024, codes=[code])[code] == expected
