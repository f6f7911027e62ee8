"""Which files in the landing area are deliveries, and what their names declare."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from connectors.landing import IgnoredFile, discover, landing_file


def test_period_and_version_from_name() -> None:
    f = landing_file("/l", "registration/经营主体登记业务明细_20240401-20240430_v2.csv")
    assert not isinstance(f, IgnoredFile)
    assert (f.period_start, f.period_end, f.version) == (date(2024, 4, 1), date(2024, 4, 30), 2)


def test_monthly_name_declares_the_whole_month() -> None:
    f = landing_file("/l", "ip_stats/知识产权统计月报_202402.csv")
    assert not isinstance(f, IgnoredFile)
    assert (f.period_start, f.period_end, f.version) == (date(2024, 2, 1), date(2024, 2, 29), 1)


def test_names_outside_the_pattern_are_ignored_with_a_reason() -> None:
    for rel in (
        "registration/经营主体登记业务明细.csv",
        "registration/经营主体登记业务明细_20240431-20240501.csv",
        "registration/~$经营主体登记业务明细_20240401-20240430.csv",
        "registration/.hidden.csv",
        "registration/x.tmp",
        "other/经营主体登记业务明细_20240401-20240430.csv",
        "经营主体登记业务明细_20240401-20240430.csv",
    ):
        found = landing_file("/l", rel)
        assert isinstance(found, IgnoredFile), rel
        assert found.why


def test_discover_reports_ignored_files_and_links_out_of_the_area(tmp_path: Path) -> None:
    (tmp_path / "registration").mkdir()
    good = tmp_path / "registration" / "经营主体登记业务明细_20240101-20240131.csv"
    good.write_bytes(b"x")
    (tmp_path / "registration" / "notes.txt").write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
    outside.write_text("secret")
    os.symlink(outside, tmp_path / "registration" / "经营主体登记业务明细_20240201-20240229.csv")
    files, ignored = discover(str(tmp_path))
    assert [f.relative for f in files] == [
        "registration/经营主体登记业务明细_20240101-20240131.csv"
    ]
    reasons = {i.relative: i.why for i in ignored}
    assert "link" in reasons["registration/经营主体登记业务明细_20240201-20240229.csv"]
    assert "registration/notes.txt" in reasons


def test_wrong_extension_for_a_source_is_a_delivery_that_will_be_quarantined() -> None:
    f = landing_file("/l", "registration/经营主体登记业务明细_20240101-20240131.xlsx")
    assert not isinstance(f, IgnoredFile) and f.extension == "xlsx"
