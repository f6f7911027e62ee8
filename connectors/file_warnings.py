"""A file's warnings (they never reject anything) as rules with row counts, for the run's summary
artifact and the ledger (`status --json`).

The pipeline reports them as short lines from three places: the reader (a workbook whose
declared sheet is absent, read from its single sheet), the audit's warning expectations (dates
after the audit day: "... failed [not after today ...]: 3 of 120 rows unexpected") and the
cross-delivery checks (a year-to-date figure that fell, one line per region and month). Each line
is classified here once, by its shape; a line of no known shape is kept as rule `other`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

RULES = {
    "future_date": "dates after the audit day (many suggest a misread date format)",
    "single_sheet": "the declared sheet is absent; the workbook's only sheet was read",
    "ytd_decrease": "a year-to-date figure fell from one month to the next (kept)",
    "other": "see the run's log",
}

_GX = re.compile(
    r"^expect_\w+(?:\((?P<column>[^)]*)\))? failed \[(?P<rule>[^\]]*)\]"
    r"(?:: (?P<rows>\d+) of \d+ rows unexpected)?"
)
_SHEET = re.compile(r"^sheet .* not found; read the only sheet ")
_YTD = re.compile(r": (?P<column>[^:]+) fell from -?\d+ to -?\d+ \(a year-to-date figure")


@dataclass(frozen=True)
class FileWarning:
    """One rule a file broke without being rejected: how many rows (None: the whole file)."""

    rule: str
    column: str | None = None
    rows: int | None = None

    @property
    def what(self) -> str:
        return RULES.get(self.rule, RULES["other"])

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "column": self.column, "rows": self.rows}


def classify(line: str) -> FileWarning:
    """The rule of one warning line (its count of rows where it states one)."""
    if m := _GX.match(line):
        rule = "future_date" if m["rule"].startswith("not after today") else "other"
        return FileWarning(rule, m["column"], int(m["rows"]) if m["rows"] else None)
    if _SHEET.match(line):
        return FileWarning("single_sheet")
    if m := _YTD.search(line):
        return FileWarning("ytd_decrease", m["column"], rows=1)
    return FileWarning("other")


def summarize(lines: Iterable[str]) -> list[FileWarning]:
    """A file's warning lines as one entry per (rule, column), rows added up, first seen first."""
    out: dict[tuple[str, str | None], FileWarning] = {}
    for w in map(classify, lines):
        key = (w.rule, w.column)
        seen = out.get(key)
        if seen is None:
            out[key] = w
        elif w.rows is not None:
            out[key] = FileWarning(w.rule, w.column, (seen.rows or 0) + w.rows)
    return list(out.values())
