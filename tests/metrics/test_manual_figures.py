"""Every figure the offices keep by hand (the `manual` source) against a tiny warehouse.

Written from the contract (manual-figures-2024.json: one value per figure at a stated cut-off)
and the catalog's rule for such figures: the value of the current row of that code with the
latest cut-off on or before the report's cut-off, within the year. Rows of another code, of an
earlier cut-off, of a later cut-off than the report's, or of another year must not count.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from tiny_warehouse import add_rows

from connectors.sources import MANUAL_CODES
from metrics.engine import compute_metrics

RATES_AND_AMOUNTS = {
    "litigation.appearance_rate",
    "litigation.head_appearance_rate",
    "quality_credit.credit_line_yi",
}


def entry(code: str, on: date, value: str) -> dict[str, Any]:
    return {
        "code": code,
        "as_of": on,
        "value": Decimal(value),
        "evidence": "蓬市监法〔2024〕1号",
        "entered_by": "林**",
    }


def other(code: str) -> str:
    return next(c for c in MANUAL_CODES if c != code)


@pytest.mark.parametrize("code", MANUAL_CODES)
def test_latest_cut_off_of_its_own_code_within_the_year(tiny: Engine, code: str) -> None:
    add_rows(
        tiny,
        "manual",
        [
            entry(code, date(2024, 3, 31), "7"),  # an earlier cut-off: replaced by June's
            entry(code, date(2024, 6, 30), "12"),  # the figure
            entry(code, date(2024, 9, 30), "40"),  # after the report's cut-off below
            entry(other(code), date(2024, 6, 30), "99"),  # another figure
            entry(code, date(2023, 12, 31), "55"),  # last year
        ],
    )
    at_august = compute_metrics(tiny, 2024, date(2024, 8, 31), codes=[code])[code]
    whole_year = compute_metrics(tiny, 2024, codes=[code])[code]
    if code in RATES_AND_AMOUNTS:  # stated with decimals (rates 0..100, 亿元)
        assert at_august == Decimal("12.00") and whole_year == Decimal("40.00")
    else:  # counts: whole numbers
        assert at_august == 12 and type(at_august) is int
        assert whole_year == 40
    # before its first cut-off of the year the figure is unknown, not 0
    assert compute_metrics(tiny, 2024, date(2024, 2, 29), codes=[code])[code] is None
