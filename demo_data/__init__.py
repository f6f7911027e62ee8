"""Demo export generator: a calibrated year of landing files for the nine sources."""

from demo_data.generate import DEFAULT_SEED, generate
from demo_data.plan import Plan, build_plan, expected_metrics, reference_values

__all__ = ["DEFAULT_SEED", "Plan", "build_plan", "expected_metrics", "generate", "reference_values"]
