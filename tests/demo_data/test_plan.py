"""The calibration plan: its figures are the published ones, whatever the scale it stays sane."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from demo_data import build_plan, expected_metrics, reference_values
from demo_data.plan import TARGETS, allocate


def test_plan_figures_are_the_published_ones() -> None:
    implied = expected_metrics(build_plan(2024, 1.0))
    for code, value in reference_values().items():
        assert implied[code] == value, code


def _shipped_reference() -> dict[str, Any]:
    from importlib.resources import files

    return json.loads((files("demo_data") / "reference-2024.json").read_text("utf-8"))  # type: ignore[no-any-return]


def test_targets_copy_the_reference() -> None:
    reference = _shipped_reference()
    for code, spec in reference["metrics"].items():
        value, as_of = TARGETS[code]
        assert as_of == spec["as_of"], code
        if "range" in spec:
            low, high = spec["range"]
            assert low <= Decimal(str(value)) <= high, code
        else:
            assert Decimal(str(value)) == Decimal(str(spec["value"])), code


def test_shipped_reference_matches_the_shared_one(spec_dir: Path) -> None:
    """Where the contract is beside the clone: the project's copy is still faithful."""
    shared = json.loads((spec_dir / "reference-2024.json").read_text("utf-8"))
    assert _shipped_reference()["metrics"] == shared["metrics"]


def test_allocate_is_exact_and_proportional() -> None:
    assert allocate(20071, np.array([8.6, 5.6, 9.4])).sum() == 20071
    # 2.5 / 2.5 / 5: the largest remainder goes to the first of equals.
    assert allocate(10, [1.0, 1.0, 2.0]).tolist() == [3, 2, 5]
    assert allocate(0, [1.0, 2.0]).tolist() == [0, 0]


@pytest.mark.parametrize("scale", [0.001, 0.3, 10.0, 100.0])
def test_every_file_has_counted_rows_at_any_scale(scale: float) -> None:
    plan = build_plan(2024, scale)
    for sp in plan.sources.values():
        for spec in sp.files:
            assert sp.cells_for(spec)["n"].sum() > 0, spec.relative
            # Planned rejects stay far below the 5 % quarantine threshold.
            assert spec.reject_rows <= 0.05 * sp.cells_for(spec)["n"].sum(), spec.relative


def test_scale_multiplies_counted_rows() -> None:
    one = build_plan(2024, 1.0).counted_rows()
    hundred = build_plan(2024, 100.0).counted_rows()
    for code, n in one.items():
        if code == "ip_stats":  # pre-aggregated statistics: one row per region and month
            assert hundred[code] == n
        else:
            assert hundred[code] == pytest.approx(100 * n, rel=0.02), code


def test_other_years_are_plausible_not_calibrated() -> None:
    plan = build_plan(2023, 1.0)
    assert not plan.calibrated and build_plan(2024, 1.0).calibrated
    figures = expected_metrics(plan)
    assert 18000 < figures["reg.establish"] < 20071  # type: ignore[operator]
    # The 2023 October stock is the one the 2024 year-on-year figure divides by.
    assert figures["ip.valid_invention"] == 1563
