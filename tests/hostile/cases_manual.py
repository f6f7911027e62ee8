"""Hostile workbooks of the offices' figures (the `manual` source, issue 24): a resident ID and
the clerk's name where the figures are typed, and figures that contradict each other.

Each writes the year + 1 workbook, so the valid year's figures stay as they were.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

from connectors.sources import MANUAL
from report.manual_workbook import Entry, file_name, write_workbook
from tests.hostile.corpus import HostileCase

RESIDENT_ID = "440703199001010017"  # valid GB 11643 check digit
CLERK = "欧阳志远"


def _entries(year: int) -> dict[str, Entry]:
    doc = json.loads((files("demo_data") / "manual-figures-2024.json").read_text("utf-8"))
    return {
        code: Entry(
            date.fromisoformat(spec["as_of"]).replace(year=year),
            Decimal(str(spec["value"])),
            f"蓬江市监法〔{year}〕{i + 1}号",
            CLERK,
        )
        for i, (code, spec) in enumerate(doc["metrics"].items())
    }


def _write(landing: Path, year: int, entries: dict[str, Entry]) -> list[str]:
    relative = f"{MANUAL.code}/{file_name(year)}"
    (landing / MANUAL.code).mkdir(parents=True, exist_ok=True)
    write_workbook(landing / relative, year, entries=entries)
    return [relative]


def _id_in_the_evidence(landing: Path, year: int) -> list[str]:
    entries = _entries(year + 1)
    entries["legal.opinions"] = replace(
        entries["legal.opinions"], evidence=f"当事人{RESIDENT_ID}来函"
    )
    return _write(landing, year + 1, entries)


def _figures_that_contradict(landing: Path, year: int) -> list[str]:
    entries = _entries(year + 1)
    entries["litigation.cases"] = replace(entries["litigation.cases"], value=Decimal(15))
    return _write(landing, year + 1, entries)


CASES: list[HostileCase] = [
    HostileCase(
        "manual_workbook_with_an_id_and_the_clerk",
        _id_in_the_evidence,
        "published",
        notes="a resident ID typed into 依据文号, the clerk's name in 填报人",
        extra={"clear": [RESIDENT_ID, CLERK, "志远"]},
    ),
    HostileCase(
        "manual_workbook_contradicting_itself",
        _figures_that_contradict,
        "quarantined",
        reason="inconsistent",
        notes="litigation.cases 15 while first + second instance give 14",
    ),
]
