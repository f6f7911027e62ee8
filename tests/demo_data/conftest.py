"""One generated demo year per test session (scale 1, default seed), read back once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.batch import ExtractedBatch
from demo_data import DEFAULT_SEED, generate


@pytest.fixture(scope="session")
def demo_year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The calibrated 2024 landing area and the generator's summary."""
    out = tmp_path_factory.mktemp("demo") / "landing"
    return out, generate(2024, out, seed=DEFAULT_SEED, scale=1.0)


@pytest.fixture(scope="session")
def demo_batches(demo_year: tuple[Path, dict[str, Any]]) -> dict[str, ExtractedBatch]:
    """Every delivery of the demo year read by the connectors, by relative path."""
    from decimal import Decimal

    from connectors.extract import extract_file
    from connectors.landing import discover

    files, _ = discover(str(demo_year[0]))
    return {
        f.relative: extract_file(f, pii_key=b"demo-test-key", threshold=Decimal("0.05"))
        for f in files
    }
