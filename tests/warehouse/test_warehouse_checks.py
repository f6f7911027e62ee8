"""Year-to-date flows that decrease are warned about, never rejected (ip_stats rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

HEADER = "统计月份,地区,专利授权量(本年累计),发明专利授权量(本年累计),有效发明专利量(期末),商标有效注册量(期末),地理标志证明商标(期末)"


def _month(landing: Path, month: str, rows: list[str]) -> None:
    folder = landing / "ip_stats"
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join([HEADER, *rows]) + "\n"
    (folder / f"知识产权统计月报_{month}.csv").write_text(text, encoding="utf-8-sig")


def test_decreasing_year_to_date_figure_warns_and_publishes(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bureau_stats.settings import load_settings
    from flows.run import ingest

    url, region = warehouse_url, "蓬江区"
    landing = tmp_path / "landing"
    _month(
        landing,
        "202401",
        [f"2024年1月,{region},83,16,1654,31132,2", "2024年1月,江海区,40,8,660,12456,1"],
    )
    _month(
        landing,
        "202402",
        [f"2024年2月,{region},80,16,1660,31200,2", "2024年2月,江海区,45,9,661,12460,1"],
    )
    monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(tmp_path / "var"))
    settings = load_settings(landing=str(landing), warehouse_url=url)
    summary = ingest(settings)
    by_file = {o.file: o for o in summary.outcomes}
    feb = by_file["ip_stats/知识产权统计月报_202402.csv"]
    assert feb.status == "published" and feb.rows_accepted == 2
    assert len(feb.warnings) == 1
    assert region in feb.warnings[0] and "2024-02" in feb.warnings[0] and "83" in feb.warnings[0]
    assert by_file["ip_stats/知识产权统计月报_202401.csv"].warnings == []


def test_the_ledger_keeps_each_files_warnings(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """status --json lists a file's warnings (rule, column, rows) after the run that found them."""
    from bureau_stats.settings import load_settings
    from flows.run import ingest
    from warehouse.delivery_warnings import ledger_with_warnings, record_warnings
    from warehouse.engine import open_warehouse
    from warehouse.status import find_deliveries

    landing = tmp_path / "landing"
    _month(
        landing,
        "202401",
        ["2024年1月,蓬江区,83,16,1654,31132,2", "2024年1月,江海区,40,8,660,12456,1"],
    )
    _month(
        landing,
        "202402",
        ["2024年2月,蓬江区,80,15,1660,31200,2", "2024年2月,江海区,39,9,661,12460,1"],
    )
    monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(tmp_path / "var"))
    ingest(load_settings(landing=str(landing), warehouse_url=warehouse_url))
    engine = open_warehouse(warehouse_url)
    by_file = {b["file"]: b for b in ledger_with_warnings(engine)}
    feb = by_file["ip_stats/知识产权统计月报_202402.csv"]
    assert feb["warnings"] == [
        {"rule": "ytd_decrease", "column": "专利授权量(本年累计)", "rows": 2},
        {"rule": "ytd_decrease", "column": "发明专利授权量(本年累计)", "rows": 1},
    ]
    assert by_file["ip_stats/知识产权统计月报_202401.csv"]["warnings"] == []
    # processing the file again replaces its warnings
    batch_id = find_deliveries(engine, feb["file"])[0]["id"]
    record_warnings(engine, batch_id, [])
    assert {b["file"]: b for b in ledger_with_warnings(engine)}[feb["file"]]["warnings"] == []
    engine.dispose()
