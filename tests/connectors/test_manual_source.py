"""The `manual` source: the offices' yearly workbook of figures no export holds, on the road of
every export (landing name, row rules, consistency quarantine, warehouse, supersession by
`_v2`, as-known-at, the engine's value at each figure's own cut-off, lineage to the row)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from connectors.batch import ExtractedBatch
from connectors.extract import extract_file
from connectors.landing import landing_file
from connectors.sources import MANUAL, MANUAL_CODES
from metrics.catalog import load_catalog
from metrics.engine import compute_metrics
from metrics.source_rows import figure_rows
from report.manual_workbook import Entry, file_name, write_workbook
from warehouse.engine import open_warehouse
from warehouse.ledger import order_deliveries, register_deliveries
from warehouse.publish import publish_batch
from warehouse.schema import batch, source_table
from warehouse.status import list_batches, list_rejects

KEY = b"unit-test-key"
CLERK = "林晓红"


def reference() -> dict[str, dict[str, Any]]:
    """The project's copy of the contract's manual-figures-2024.json."""
    text = (files("demo_data") / "manual-figures-2024.json").read_text("utf-8")
    return json.loads(text)["metrics"]  # type: ignore[no-any-return]


def entries(**changed: Decimal) -> dict[str, Entry]:
    """Every reference figure at its own cut-off; `changed` overrides values (dots as __)."""
    out = {}
    for i, (code, spec) in enumerate(reference().items()):
        value = changed.get(code.replace(".", "__"), Decimal(str(spec["value"])))
        out[code] = Entry(
            date.fromisoformat(spec["as_of"]), value, f"蓬江市监法〔2024〕{i + 1}号", CLERK
        )
    return out


def write(landing: Path, version: int = 1, **kw: Any) -> Path:
    path = landing / MANUAL.code / file_name(2024, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_workbook(path, 2024, **kw)


def extract(landing: Path, path: Path) -> ExtractedBatch:
    found = landing_file(str(landing), path.relative_to(landing).as_posix())
    assert not hasattr(found, "why"), found
    return extract_file(found, pii_key=KEY)  # type: ignore[arg-type]


def deliver(engine: Engine, *batches: ExtractedBatch) -> None:
    ordered = order_deliveries(list(batches))
    for b, r in zip(ordered, register_deliveries(engine, ordered), strict=True):
        publish_batch(engine, b, r)


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    return open_warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")


def test_the_codes_are_the_catalogs_and_the_references() -> None:
    catalog = load_catalog()
    assert [m.code for m in catalog if m.source == MANUAL.code] == list(MANUAL_CODES)
    assert list(reference()) == list(MANUAL_CODES)
    for code, spec in reference().items():
        assert (catalog[code].label, catalog[code].unit) == (spec["label"], spec["unit"])


def test_the_shipped_copy_is_the_contracts(spec_dir: Path) -> None:
    shared = json.loads((spec_dir / "manual-figures-2024.json").read_text("utf-8"))
    assert shared["metrics"] == reference()


def test_the_workbook_gives_every_figure_at_its_own_cut_off(tmp_path: Path, engine: Engine) -> None:
    landing = tmp_path / "landing"
    got = extract(landing, write(landing, entries=entries()))
    assert (got.verdict, got.rows_read, got.rows_accepted, got.rows_rejected) == (
        "readable",
        25,
        25,
        0,
    )
    deliver(engine, got)
    assert [b["status"] for b in list_batches(engine)] == ["published"]
    for code, spec in reference().items():
        as_of = date.fromisoformat(spec["as_of"])
        value = compute_metrics(engine, 2024, as_of, codes=[code])[code]
        assert value is not None and Decimal(value) == Decimal(str(spec["value"])), code
    # Before a figure's cut-off there is no row for it yet: no data, not zero.
    assert compute_metrics(engine, 2024, date(2024, 11, 12), codes=["litigation.cases"]) == {
        "litigation.cases": None
    }
    assert compute_metrics(engine, 2024, codes=["legal.opinions"]) == {"legal.opinions": 142}
    assert compute_metrics(engine, 2024, codes=["quality_credit.credit_line_yi"]) == {
        "quality_credit.credit_line_yi": Decimal("1.20")
    }


def test_the_clerks_name_never_reaches_the_warehouse_in_clear(
    tmp_path: Path, engine: Engine
) -> None:
    landing = tmp_path / "landing"
    deliver(engine, extract(landing, write(landing, entries=entries())))
    (row,) = figure_rows(engine, "legal.opinions", 2024)
    assert row.cells["填报人"] == "林**"
    assert CLERK not in repr(row)


def test_explain_names_the_workbook_and_its_row(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bureau_stats.cli.metrics  # noqa: F401  (registers the commands)
    from bureau_stats.cli.app import app

    landing = tmp_path / "landing"
    deliver(engine, extract(landing, write(landing, entries=entries())))
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    result = CliRunner().invoke(
        app, ["explain", "legal.opinions", "--year", "2024", "--json", "--warehouse", url]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["value"] == 142
    (row,) = doc["rows"]
    # Row 4 of the sheet: the instructions, the header, then legal.adviser_firms.
    assert (row["name"], row["line"]) == (file_name(2024), 4)
    assert row["cells"]["依据文号"] == "蓬江市监法〔2024〕2号"
    assert row["cells"]["数值"] == "142"
    text = (
        CliRunner()
        .invoke(app, ["explain", "legal.opinions", "--year", "2024", "--warehouse", url])
        .stdout
    )
    assert f"{file_name(2024)} row 4" in text


def test_a_v2_correction_supersedes_and_as_known_at_sees_the_first(
    tmp_path: Path, engine: Engine
) -> None:
    landing = tmp_path / "landing"
    first = extract(landing, write(landing, entries=entries()))
    deliver(engine, first)
    with engine.begin() as conn:  # the first workbook arrived in January
        for table in (batch, source_table(MANUAL.code)):
            conn.execute(update(table).values(published_at=datetime(2025, 1, 5, tzinfo=UTC)))
    second = extract(landing, write(landing, 2, entries=entries(legal__opinions=Decimal(143))))
    assert second.file.version == 2
    deliver(engine, second)
    assert [b["status"] for b in list_batches(engine)] == ["superseded", "published"]
    assert compute_metrics(engine, 2024, codes=["legal.opinions"]) == {"legal.opinions": 143}
    before = datetime(2025, 1, 6, tzinfo=UTC)
    assert compute_metrics(engine, 2024, as_known_at=before, codes=["legal.opinions"]) == {
        "legal.opinions": 142
    }
    (row,) = figure_rows(engine, "legal.opinions", 2024)
    assert row.name == file_name(2024, 2)


@pytest.mark.parametrize(
    ("entry", "reason", "column"),
    [
        ({"code": "legal.unknown"}, "bad_enum", "指标代码"),
        ({"evidence": ""}, "missing_required", "依据文号"),
        ({"code": "litigation.appearance_rate", "value": Decimal(120)}, "rule_violation", "数值"),
        ({"value": Decimal(-1)}, "rule_violation", "数值"),
        ({"as_of": date(2025, 1, 1)}, "out_of_period", "截至日期"),
    ],
)
def test_a_bad_row_is_rejected_with_its_reason(
    tmp_path: Path, engine: Engine, entry: dict[str, Any], reason: str, column: str
) -> None:
    """One bad row among many extra good ones stays under the 5 % threshold: rejected alone."""
    landing = tmp_path / "landing"
    bad = _with_row(landing / MANUAL.code / file_name(2024), entry)
    got = extract(landing, bad)
    assert (got.rows_read, got.rows_rejected) == (25 * 20 + 1, 1)
    (rejected,) = got.rejects.itertuples()
    assert (rejected.reason, rejected.column) == (reason, column)
    assert CLERK not in rejected.raw  # the rejected row's name is masked too (rule 7)
    assert got.verdict == "readable"
    deliver(engine, got)
    rejects = list_rejects(engine, bad.relative_to(landing).as_posix())
    assert [(r["reason"], r["column"]) for r in rejects] == [(reason, column)]


def _with_row(path: Path, entry: dict[str, Any]) -> Path:
    """The workbook with every figure repeated at 20 earlier cut-offs (so one bad row is under
    the reject threshold) and one more row holding `entry`."""
    import xlsxwriter

    rows = []
    for i, (code, spec) in enumerate(reference().items()):
        for month in range(1, 21):
            day = date(2024, (month - 1) % 10 + 1, (month - 1) // 10 + 1)
            rows.append([code, day, Decimal(str(spec["value"])), f"文号{i}-{month}", CLERK])
    bad = {"code": "legal.opinions", "as_of": date(2024, 12, 30), "value": Decimal(1)}
    bad |= {"evidence": "文号X", "entered_by": CLERK} | entry
    rows.append([bad["code"], bad["as_of"], bad["value"], bad["evidence"], bad["entered_by"]])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(MANUAL.sheet)
    ws.write_row(0, 0, ["说明"])
    ws.write_row(1, 0, [c.header for c in MANUAL.columns])
    fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for r, (code, day, value, evidence, who) in enumerate(rows, start=2):
        ws.write_string(r, 0, code)
        ws.write_datetime(r, 1, datetime.combine(day, datetime.min.time()), fmt)
        ws.write_number(r, 2, value)  # type: ignore[arg-type]
        if evidence:
            ws.write_string(r, 3, evidence)
        ws.write_string(r, 4, who)
    wb.close()
    return path


def test_a_workbook_breaking_a_consistency_rule_is_quarantined_naming_it(
    tmp_path: Path, engine: Engine
) -> None:
    landing = tmp_path / "landing"
    # 14 cases, of which 10 first and 5 second instance (every row valid on its own).
    path = write(landing, entries=entries(litigation__cases__second_instance=Decimal(5)))
    got = extract(landing, path)
    assert (got.verdict, got.reason) == ("quarantine", "inconsistent")
    assert got.detail is not None
    assert "litigation.cases = first_instance + second_instance" in got.detail
    assert "2024-11-13" in got.detail and "14 = 10 + 5" in got.detail
    deliver(engine, got)
    (entry,) = list_batches(engine)
    assert (entry["status"], entry["reason"]) == ("quarantined", "inconsistent")
    assert "first_instance + second_instance" in entry["detail"]
    assert compute_metrics(engine, 2024, codes=["legal.opinions"]) == {"legal.opinions": None}


@pytest.mark.parametrize(
    ("changed", "rule"),
    [
        ({"litigation__concluded": Decimal(6)}, "litigation.concluded = judgment_upheld"),
        ({"litigation__lost": Decimal(6)}, "litigation.lost <= litigation.concluded"),
    ],
)
def test_the_other_consistency_rules(
    tmp_path: Path, changed: dict[str, Decimal], rule: str
) -> None:
    landing = tmp_path / "landing"
    got = extract(landing, write(landing, entries=entries(**changed)))
    assert got.reason == "inconsistent" and got.detail is not None and rule in got.detail


def test_a_rule_waits_for_every_figure_it_names(tmp_path: Path) -> None:
    """A figure not entered yet at that cut-off is no contradiction."""
    landing = tmp_path / "landing"
    some = entries(litigation__cases__second_instance=Decimal(5))
    del some["litigation.cases.first_instance"]
    got = extract(landing, write(landing, entries=some))
    assert (got.verdict, got.rows_accepted) == ("readable", 24)


def test_the_template_filled_with_the_reference_loads_to_it(tmp_path: Path, engine: Engine) -> None:
    """`bureau-stats template manual` writes the layout the connector reads: the template,
    filled in by a person (here: cells typed into the written rows), loads to the figures."""
    import bureau_stats.cli.template  # noqa: F401  (registers the command)
    from bureau_stats.cli.app import app

    out = tmp_path / "template.xlsx"
    result = CliRunner().invoke(app, ["template", "manual", "--year", "2024", "--out", str(out)])
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(app, ["template", "manual", "--year", "2024", "--out", str(out)])
    assert again.exit_code == 2  # never overwritten unless --force
    landing = tmp_path / "landing"
    filled = landing / MANUAL.code / file_name(2024)
    filled.parent.mkdir(parents=True)
    _fill(out, filled)
    got = extract(landing, filled)
    assert (got.verdict, got.rows_accepted, got.rows_rejected) == ("readable", 25, 0)
    deliver(engine, got)
    for code, spec in reference().items():
        as_of = date.fromisoformat(spec["as_of"])
        value = compute_metrics(engine, 2024, as_of, codes=[code])[code]
        assert value is not None and Decimal(value) == Decimal(str(spec["value"])), code


def _fill(template: Path, filled: Path) -> None:
    """Type the reference figures into the template's empty cells as a person would (text
    dates as typed), keeping every other cell, sheet and the validations as written."""
    import zipfile

    figures = reference()
    with zipfile.ZipFile(template) as src:
        parts = {n: src.read(n) for n in src.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    strings = parts["xl/sharedStrings.xml"].decode()
    shared = _shared_strings(strings)
    rows = _rows_by_code(sheet, shared)
    for code, row in rows.items():
        spec = figures[code]
        cells = (
            f'<c r="D{row}" t="inlineStr"><is><t>{spec["as_of"]}</t></is></c>'
            f'<c r="E{row}"><v>{spec["value"]}</v></c>'
            f'<c r="F{row}" t="inlineStr"><is><t>蓬江市监法〔2024〕9号</t></is></c>'
            f'<c r="G{row}" t="inlineStr"><is><t>{CLERK}</t></is></c>'
        )
        closing = sheet.index("</row>", sheet.index(f'<row r="{row}"'))
        sheet = sheet[:closing] + cells + sheet[closing:]
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(filled, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in parts.items():
            dst.writestr(name, data)


def _shared_strings(xml: str) -> list[str]:
    import re

    return [re.sub(r"<[^>]+>", "", s) for s in re.findall(r"<si>(.*?)</si>", xml, re.S)]


def _rows_by_code(sheet: str, shared: list[str]) -> dict[str, int]:
    import re

    out = {}
    for row, index in re.findall(r'<c r="A(\d+)"[^>]*t="s"[^>]*><v>(\d+)</v>', sheet):
        if shared[int(index)] in MANUAL_CODES:
            out[shared[int(index)]] = int(row)
    assert len(out) == len(MANUAL_CODES)
    return out


def test_the_status_schema_names_every_source_and_file_reason() -> None:
    """`status --json`'s schema follows the declarations (a new source, a new reason)."""
    from connectors.batch import FILE_REASONS
    from connectors.sources import SOURCES

    schema_path = Path(__file__).resolve().parents[2] / "docs" / "status.schema.json"
    text = schema_path.read_text("utf-8")
    batch_schema = json.loads(text)["$defs"]["batch"]["properties"]
    assert batch_schema["source"]["enum"] == list(SOURCES)
    (_, reasons) = batch_schema["reason"]["oneOf"]
    assert reasons["enum"] == list(FILE_REASONS)
