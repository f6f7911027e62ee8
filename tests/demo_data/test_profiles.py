"""Volume profiles: the demo profile is the calibrated plan; workbook-heavy is a quarter XLSX."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.extract import extract_file
from connectors.landing import discover
from connectors.sources import SOURCES
from demo_data import build_plan, generate
from demo_data.profiles import PROFILES, multiplier

ACCOUNTING = ("rows_read", "rows_accepted", "rows_rejected", "rows_duplicate")


def test_the_demo_profile_is_the_calibrated_plan() -> None:
    plain, demo = build_plan(2024, 1.0), build_plan(2024, 1.0, "demo")
    assert demo.calibrated and plain.calibrated
    for code, sp in plain.sources.items():
        assert sp.files == demo.sources[code].files, code
        assert sp.cells.equals(demo.sources[code].cells), code
    assert not build_plan(2024, 1.0, "workbook-heavy").calibrated


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="workbook-heavy"):
        build_plan(2024, 1.0, "no-such-profile")


def test_workbook_heavy_multiplies_only_its_sources() -> None:
    demo = build_plan(2024, 2.0).counted_rows()
    heavy = build_plan(2024, 2.0, "workbook-heavy").counted_rows()
    assert set(PROFILES["workbook-heavy"]) <= set(SOURCES)
    assert set(heavy) == set(demo)
    for code in demo:  # the planned exports (the offices' workbook is not planned by volume)
        k = multiplier("workbook-heavy", code)
        if k == 1.0:
            assert heavy[code] == demo[code], code
        else:
            assert heavy[code] == pytest.approx(demo[code] * k, rel=0.05), code


@pytest.fixture(scope="module")
def heavy_year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("heavy") / "landing"
    return out, generate(2024, out, scale=0.5, profile="workbook-heavy")


def test_workbook_heavy_is_a_quarter_workbooks(heavy_year: tuple[Path, dict[str, Any]]) -> None:
    _, summary = heavy_year
    assert summary["profile"] == "workbook-heavy" and not summary["calibrated"]
    xlsx = sum(
        s["rows_read"] for code, s in summary["sources"].items() if SOURCES[code].format == "xlsx"
    )
    assert 0.22 <= xlsx / summary["rows_total"] <= 0.28
    # cases are the widest workbook: every column of the contract is written
    assert summary["sources"]["cases"]["rows_read"] > 5 * 986 * 0.5 * 0.9


def test_workbook_heavy_files_read_back_as_planned(
    heavy_year: tuple[Path, dict[str, Any]],
) -> None:
    root, summary = heavy_year
    planned = {f["path"]: f for f in summary["files"]}
    files, _ = discover(str(root))
    assert {f.relative for f in files} == set(planned)
    for f in files:
        batch = extract_file(f, pii_key=b"profile-test-key", threshold=Decimal("0.05"))
        assert batch.verdict == "readable", f.relative
        got = {k: getattr(batch, k) for k in ACCOUNTING}
        assert got == {k: planned[f.relative][k] for k in ACCOUNTING}, f.relative


def test_generate_sample_takes_the_profile(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    import bureau_stats.cli.sample  # noqa: F401  (registers the command)
    from bureau_stats.cli.app import app

    out = tmp_path / "landing"
    refused = CliRunner().invoke(app, ["generate-sample", "--out", str(out), "--profile", "nope"])
    assert refused.exit_code == 2 and not out.exists()
    summary = tmp_path / "s.json"
    done = CliRunner().invoke(
        app,
        ["generate-sample", "--out", str(out), "--source", "ip_pledge", "--scale", "0.5"]
        + ["--profile", "workbook-heavy", "--summary-json", str(summary)],
    )
    assert done.exit_code == 0, done.output
    assert '"profile": "workbook-heavy"' in summary.read_text(encoding="utf-8")
    assert "not calibrated" in done.output
