"""A year with a gap, end to end: the demo year with September's special-equipment export
truncated (quarantined) and October's inspections never delivered, run through the real
pipeline; then `metrics --json`, `explain`, the report in every format and `report --final`.
With the two files delivered after all, every figure is complete and `--final` renders."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from docx import Document
from typer.testing import CliRunner

from bureau_stats.cli import load_commands
from bureau_stats.cli.app import app
from bureau_stats.settings import load_settings
from metrics.catalog import load_catalog

SEPTEMBER = "special_equipment/特种设备使用登记_20240901-20240930.json"
OCTOBER = "inspections/监督检查记录_20241001-20241031.csv"
SEP_NAME = SEPTEMBER.split("/")[1]
INSPECTIONS = [m.code for m in load_catalog() if m.source == "inspections"]


def ingest(landing: Path, var: Path, url: str) -> set[str]:
    from flows.run import ingest as run_ingest

    settings = load_settings(
        var_dir=var, landing=str(landing), warehouse_url=url, pii_key="coverage-test-key"
    )
    return {o.status for o in run_ingest(settings).outcomes}


def cli(*args: str) -> tuple[int, str, str]:
    load_commands()
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def gapped(demo_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo year with the two gaps, ingested once into SQLite: its URL."""
    root = tmp_path_factory.mktemp("coverage")
    landing = root / "landing"
    shutil.copytree(demo_landing, landing)
    whole = (demo_landing / SEPTEMBER).read_bytes()
    (landing / SEPTEMBER).write_bytes(whole[: len(whole) // 2])  # truncated mid-record
    (landing / OCTOBER).unlink()
    url = f"sqlite:///{root / 'warehouse.db'}"
    assert "quarantined" in ingest(landing, root, url)
    yield url


def test_metrics_json_names_the_month_and_the_file(gapped: str) -> None:
    code, out, err = cli("metrics", "--year", "2024", "--json", "--warehouse", gapped)
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"year", "as_of", "metrics", "coverage"}
    assert list(doc["coverage"]) == list(doc["metrics"]) == load_catalog().codes
    cov = doc["coverage"]
    assert cov["seq.approved_units"] == {
        "complete": False,
        "missing": [{"period": "2024-09", "reason": "quarantined", "file": SEP_NAME}],
    }
    for code in INSPECTIONS:
        assert cov[code] == {
            "complete": False,
            "missing": [{"period": "2024-10", "reason": "not delivered", "file": None}],
        }, code
    gaps = {"seq.approved_units", *INSPECTIONS}
    assert {c for c, v in cov.items() if not v["complete"]} == gaps
    # the table view marks them too
    code, out, _ = cli("metrics", "--year", "2024", "--warehouse", gapped)
    assert code == 0
    line = next(line for line in out.splitlines() if "seq.approved_units" in line)
    assert "2024-09 quarantined" in line and SEP_NAME[:8] in line
    assert f"{len(gaps)} figure(s) lack a period" in out
    # a cut-off before the gaps: complete
    code, out, _ = cli(
        "metrics", "--year", "2024", "--as-of", "2024-08-31", "--json", "--warehouse", gapped
    )
    assert all(v["complete"] for v in json.loads(out)["coverage"].values())


def test_explain_shows_the_same_coverage(gapped: str) -> None:
    code, out, _ = cli(
        "explain", "seq.approved_units", "--year", "2024", "--json", "--warehouse", gapped
    )
    assert code == 0
    assert json.loads(out)["coverage"]["missing"] == [
        {"period": "2024-09", "reason": "quarantined", "file": SEP_NAME}
    ]
    code, out, _ = cli("explain", "insp.drug_retail", "--year", "2024", "--warehouse", gapped)
    assert code == 0 and "coverage:   incomplete: 2024-10 not delivered" in out
    code, out, _ = cli("explain", "reg.establish", "--year", "2024", "--warehouse", gapped)
    assert code == 0 and "coverage:   complete" in out


def docx_text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts.extend(" | ".join(cell.text for cell in row.cells) for row in table.rows)
    return "\n".join(parts)


def rendered_with_warning(
    year: int, gapped: str, out: Path, caplog: pytest.LogCaptureFixture
) -> tuple[str, str]:
    """`report --year Y` on the gapped warehouse: (its stdout, the one warning it logged)."""
    with caplog.at_level("WARNING", logger="report"):
        code, printed, err = cli(
            "report", "--year", str(year), "--out", str(out), "--warehouse", gapped
        )
    assert code == 0, err
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "report.render"]
    return printed, warning


def test_a_year_with_nothing_delivered_is_one_short_warning(
    gapped: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every figure of 2023 is incomplete: the log names the first few, not all of them."""
    _, warning = rendered_with_warning(2023, gapped, tmp_path, caplog)
    found = re.search(r"report 2023: (\d+) figure\(s\) incomplete", warning)
    assert found is not None, warning[:200]
    total = int(found.group(1))
    assert total > 8
    assert warning.count(" not delivered") >= 8
    assert f"and {total - 8} more (`bureau-stats metrics --year 2023 --json` lists each)" in warning
    assert len(warning) < 4000


def test_every_format_marks_the_figure_where_it_stands(
    gapped: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out, warning = rendered_with_warning(2024, gapped, tmp_path, caplog)
    # said in the log too (what the flow run's log shows an operator)
    assert f"{1 + len(INSPECTIONS)} figure(s) incomplete" in warning
    assert f"seq.approved_units 核准特种设备使用登记: 2024-09 quarantined ({SEP_NAME})" in warning
    values = json.loads(cli("metrics", "--year", "2024", "--json", "--warehouse", gapped)[1])[
        "metrics"
    ]
    units = values["seq.approved_units"]
    files = {p.suffix: p for p in map(Path, out.split())}
    texts = {
        ".md": files[".md"].read_text(encoding="utf-8"),
        ".html": files[".html"].read_text(encoding="utf-8"),
        ".docx": docx_text(files[".docx"]),
    }
    # numbered in the order the report shows figures: special equipment first
    note = f"[注1] 未含2024年9月数据(特种设备使用登记文件已隔离:{SEP_NAME})"
    for fmt, text in texts.items():
        assert f"核准特种设备使用登记{units}台(套)[注1]" in text, fmt  # in the prose
        assert note in text, fmt  # the footnote
        assert f"检查药品零售企业{values['insp.drug_retail']}家次[注2]" in text, fmt
        # every inspections figure lacks the same month: one shared note, stated once per format
        assert text.count("[注2] 未含2024年10月数据(监督检查记录未报送)") == 1, fmt
        assert f"检查加油站{values['campaign.fuel.sites']}家次[注2]" in text, fmt
        assert f"本报告有{1 + len(INSPECTIONS)}项数据不完整" in text, fmt
        # a complete figure has no mark
        assert f"设立登记业务{values['reg.establish']}笔," in text, fmt
    # in the tables: beside the value
    assert (
        f"| 核准特种设备使用登记 | `seq.approved_units` | {units}[注1] | 台(套) |" in texts[".md"]
    )
    assert f'<td class="num">{units}[注1]</td>' in texts[".html"]
    assert f"核准特种设备使用登记 | {units}[注1] | 台(套)" in texts[".docx"]


def test_final_refuses_an_incomplete_year(gapped: str, tmp_path: Path) -> None:
    out_dir = tmp_path / "final"
    code, out, err = cli(
        "report", "--year", "2024", "--out", str(out_dir), "--final", "--warehouse", gapped
    )
    assert code == 3
    assert out == "" and not out_dir.exists()  # nothing written
    lines = err.strip().splitlines()
    assert f"seq.approved_units 核准特种设备使用登记: 2024-09 quarantined ({SEP_NAME})" in lines
    assert "insp.drug_retail 检查药品零售企业: 2024-10 not delivered" in lines
    assert len(lines) == 1 + len(INSPECTIONS) + 1  # one per figure, then the error line
    assert "Traceback" not in err
    code, out, err = cli(
        "report",
        "--year",
        "2024",
        "--out",
        str(out_dir),
        "--final",
        "--allow-incomplete",
        "--format",
        "md",
        "--warehouse",
        gapped,
    )
    assert code == 0, err
    assert "[注1]" in Path(out.split()[-1]).read_text(encoding="utf-8")


def test_the_whole_year_delivered_is_complete_and_final(
    gapped: str, demo_landing: Path, tmp_path: Path
) -> None:
    db = tmp_path / "warehouse.db"
    shutil.copyfile(gapped.removeprefix("sqlite:///"), db)
    url = f"sqlite:///{db}"
    before = datetime.now(UTC)
    landing = tmp_path / "landing"
    shutil.copytree(demo_landing, landing)  # September's full export and October's arrive
    assert ingest(landing, tmp_path, url) <= {"published", "skipped", "superseded"}
    code, out, _ = cli("metrics", "--year", "2024", "--json", "--warehouse", url)
    assert code == 0
    assert all(v == {"complete": True, "missing": []} for v in json.loads(out)["coverage"].values())
    code, out, err = cli(
        "report", "--year", "2024", "--out", str(tmp_path / "r"), "--final", "--warehouse", url
    )
    assert code == 0, err
    md = next(Path(p) for p in out.split() if p.endswith(".md")).read_text(encoding="utf-8")
    assert "[注" not in md and "不完整" not in md
    # as known before the late files arrived, the gaps are still there
    code, out, _ = cli(
        "metrics",
        "--year",
        "2024",
        "--json",
        "--as-known-at",
        before.isoformat(),
        "--warehouse",
        url,
    )
    cov = json.loads(out)["coverage"]
    assert cov["seq.approved_units"]["missing"] == [
        {"period": "2024-09", "reason": "quarantined", "file": SEP_NAME}
    ]
    assert cov["insp.drug_retail"]["missing"][0]["reason"] == "not delivered"


def test_a_word_template_marks_the_figure_and_final_refuses(gapped: str, tmp_path: Path) -> None:
    values = json.loads(cli("metrics", "--year", "2024", "--json", "--warehouse", gapped)[1])[
        "metrics"
    ]
    args = ["report", "--year", "2024", "--template", "statistics", "--warehouse", gapped]
    code, out, err = cli(*args, "--out", str(tmp_path / "t"))
    assert code == 0, err
    text = docx_text(Path(out.strip()))
    assert f"核准特种设备使用登记{values['seq.approved_units']}※台(套)" in text
    assert f"设立登记业务{values['reg.establish']}笔" in text  # complete: no mark
    assert "注:标注※的数据不完整" in text and "特种设备使用登记文件已隔离" in text
    final_dir = tmp_path / "final"
    code, out, err = cli(*args, "--out", str(final_dir), "--final")
    assert code == 3 and out == "" and not final_dir.exists()
    lines = err.strip().splitlines()
    assert any(line.startswith("seq.approved_units 核准特种设备使用登记") for line in lines)
    assert lines[-1].startswith("error: ") and "Traceback" not in err
    code, out, err = cli(*args, "--out", str(final_dir), "--final", "--allow-incomplete")
    assert code == 0, err
