"""Volume profiles of a generated year: how many rows each source gets beside the demo year.

A profile multiplies a source's planned volume (and its quirks, which follow the scale) by a
factor; a source it does not name keeps the demo year's volume. The `demo` profile names none,
so its plan is the calibrated one, byte for byte. Any other profile is a benchmark shape, not
calibrated to the report.

`workbook-heavy` (issue 22): a year whose exports are about a quarter workbooks (XLSX: the food
licences and the 15-column cases), the rest GB18030/UTF-8 CSV and JSON, like the year of exports
the bureau measured beside the demo year (there ≈ 370 k of 1.4 M extra rows were workbooks).
At --scale 1 it reads ≈ 74,000 rows, so --scale 10 and 30 give ≈ 0.74 M and 2.2 M.
"""

from __future__ import annotations

DEFAULT_PROFILE = "demo"

# profile -> source code -> volume multiplier (sources not named: 1)
PROFILES: dict[str, dict[str, float]] = {
    DEFAULT_PROFILE: {},
    "workbook-heavy": {"food_license": 1.5, "cases": 6.0, "special_equipment": 2.0},
}


def multiplier(profile: str, source: str) -> float:
    """The volume factor of `source` in `profile` (a ValueError names the known profiles)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    return PROFILES[profile].get(source, 1.0)
