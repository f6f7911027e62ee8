"""The `manual` source's suite (expectations/suites/manual.json) on the offices' workbook:
it passes on the published figures and catches, as a safety net behind the row rules, a rate
above 100 among accepted rows (the only expectation there restricted to some rows)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from connectors.batch import ExtractedBatch
from connectors.extract import extract_file
from connectors.landing import landing_file
from connectors.sources import MANUAL, MANUAL_RATES
from expectations.audit import audit_batch
from expectations.build import load_suite
from report.manual_workbook import Entry, file_name, write_workbook


def _batch(tmp_path: Path) -> ExtractedBatch:
    figures = json.loads((files("demo_data") / "manual-figures-2024.json").read_text("utf-8"))
    entries = {
        code: Entry(date.fromisoformat(s["as_of"]), Decimal(str(s["value"])), "文号1", "林晓红")
        for code, s in figures["metrics"].items()
    }
    landing = tmp_path / "landing"
    path = landing / MANUAL.code / file_name(2024)
    path.parent.mkdir(parents=True)
    write_workbook(path, 2024, entries=entries)
    found = landing_file(str(landing), path.relative_to(landing).as_posix())
    return extract_file(found, pii_key=b"k")  # type: ignore[arg-type]


def test_the_suite_declares_the_rate_cap_and_the_consistency_rules() -> None:
    suite = load_suite(MANUAL.code)
    capped = [
        e["kwargs"]
        for e in suite["expectations"]
        if e["kwargs"].get("column") == "value" and "row_condition" in e["kwargs"]
    ]
    assert capped == [
        {
            "column": "value",
            "max_value": 100,
            "row_condition": f"code.isin({sorted(MANUAL_RATES)!r})",
            "condition_parser": "pandas",
        }
    ]
    assert [r["rule"] for r in suite["meta"]["consistency"]] == [r.name for r in MANUAL.consistency]


def test_the_suite_passes_the_figures_and_fails_a_rate_above_100(tmp_path: Path) -> None:
    batch = _batch(tmp_path)
    table = batch.accepted
    assert isinstance(table, pa.Table)
    good = audit_batch(batch, data_docs_dir=tmp_path / "docs", build_docs=False)
    assert good.success, good.failures
    rate = pc.equal(table["code"], MANUAL_RATES[0])
    values = pc.if_else(rate, pa.scalar(Decimal(120), table["value"].type), table["value"])
    bad = replace(
        batch, accepted=table.set_column(table.schema.get_field_index("value"), "value", values)
    )
    outcome = audit_batch(bad, data_docs_dir=tmp_path / "docs", build_docs=False)
    assert not outcome.success
    assert any("value" in f for f in outcome.failures), outcome.failures
