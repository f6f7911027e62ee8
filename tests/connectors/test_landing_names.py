"""Names the contract allows and nothing else (issue 25 item 3): matched in full, a bounded
version, a period of the source's calendar span, regular files only, printable names."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from connectors.landing import IgnoredFile, discover, landing_file
from connectors.printable import for_console, for_markdown, printable

REG = "registration/经营主体登记业务明细_20240101-20240131"


@pytest.mark.parametrize(
    "relative",
    [
        f"{REG}_v9.csv\n",  # a trailing newline: `$` took it as a correction
        f"{REG}_v9.csv\r",
        f"{REG}.csv\x1b[2J",
        f"{REG}_v99999999999999999999.csv",  # beyond 64 bits: OverflowError in every run
        f"{REG}_v0.csv",
        "registration/经营主体登记业务明细_19000101-20991231.csv",  # supersedes every month
        "registration/经营主体登记业务明细_20240101-20240115.csv",  # half a month
        "registration/经营主体登记业务明细_20240115-20240214.csv",  # not a calendar month
        "registration/经营主体登记业务明细_20240101-20240331.csv",  # a quarter, monthly source
        "ip_cases/知识产权案件_20240101-20240131.csv",  # a month, quarterly source
        "ip_cases/知识产权案件_20240201-20240430.csv",  # three months, not a quarter
        "ip_pledge/知识产权质押登记_20240101-20240331.xlsx",  # a quarter, half-yearly source
        "ip_stats/知识产权统计月报_202401.csv\n",
    ],
)
def test_names_outside_the_contract_are_ignored(relative: str) -> None:
    found = landing_file("/l", relative)
    assert isinstance(found, IgnoredFile), relative
    assert (
        "\n" not in found.relative and "\x1b" not in found.relative and "\r" not in found.relative
    )


@pytest.mark.parametrize(
    "relative",
    [
        f"{REG}_v999999.csv",
        "registration/经营主体登记业务明细_20240201-20240229.csv",
        "ip_cases/知识产权案件_20241001-20241231.csv",
        "ip_pledge/知识产权质押登记_20240701-20241231.xlsx",
        "ip_stats/知识产权统计月报_202412_v2.csv",
    ],
)
def test_names_of_the_contract_are_deliveries(relative: str) -> None:
    assert not isinstance(landing_file("/l", relative), IgnoredFile), relative


def test_every_source_declares_its_cadence() -> None:
    from connectors.sources import PERIOD_MONTHS, SOURCES

    shapes = {code: s.cadence for code, s in SOURCES.items()}
    assert set(shapes.values()) <= set(PERIOD_MONTHS)
    assert shapes["ip_cases"] == "quarter" and shapes["ip_pledge"] == "half_year"
    assert shapes["registration"] == "month"


def test_a_fifo_named_like_a_delivery_is_ignored_and_never_opened(tmp_path: Path) -> None:
    (tmp_path / "registration").mkdir()
    fifo = tmp_path / f"{REG}.csv"
    os.mkfifo(fifo)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(discover(str(tmp_path))), daemon=True)
    worker.start()
    worker.join(20)
    assert result, "discover hung on a FIFO"
    files, ignored = result[0]  # type: ignore[misc]
    assert files == []
    assert [(i.relative, i.why) for i in ignored] == [(f"{REG}.csv", "not a regular file")]


def test_ignored_names_are_printable(tmp_path: Path) -> None:
    (tmp_path / "registration").mkdir()
    (tmp_path / "registration" / "x\x1b[2J.csv").write_bytes(b"x")
    (tmp_path / "registration" / f"{REG.split('/')[1]}_v9.csv\n").write_bytes(b"x")
    files, ignored = discover(str(tmp_path))
    assert files == []
    names = sorted(i.relative for i in ignored)
    assert names == sorted([f"{REG}_v9.csv\\n", "registration/x\\x1b[2J.csv"])


def test_escaping_for_terminal_and_markdown() -> None:
    from rich.console import Console

    console = Console(record=True, width=200, color_system=None)
    for name in ("registration[/x]", "经营主体登记业务明细[draft]_20240101-20240131.csv"):
        console.print(f"ignored {for_console(name)}: x")
    out = console.export_text()
    assert "registration[/x]" in out and "[draft]" in out
    assert printable("a\x1bb\nc\u202ed") == "a\\x1bb\\nc\\u202ed"
    # Markdown shows `\n` for the newline (its backslash escaped), and no table cell breaks.
    assert for_markdown("a|b[c](d)\n<i>张**") == "a\\|b\\[c\\](d)\\\\n\\<i\\>张**"


def test_the_yearly_workbook_and_its_correction() -> None:
    """`manual/手工填报指标_2024.xlsx` declares the year; `_v2` is its correction."""
    first = landing_file("/l", "manual/手工填报指标_2024.xlsx")
    second = landing_file("/l", "manual/手工填报指标_2024_v2.xlsx")
    assert not isinstance(first, IgnoredFile) and not isinstance(second, IgnoredFile)
    assert (first.period_start.isoformat(), first.period_end.isoformat()) == (
        "2024-01-01",
        "2024-12-31",
    )
    assert (first.version, second.version) == (1, 2)
    for name in (
        "manual/手工填报指标_20240101-20241231.xlsx",  # a period name: the source is yearly
        "manual/手工填报指标_202412.xlsx",
        "manual/manual_2024.xlsx",
    ):
        assert isinstance(landing_file("/l", name), IgnoredFile), name
