"""The landing areas the end-to-end tests run over, each with what a correct run must give.

`demo`: the project's own generator at a small scale and a fixed seed; every expectation
comes from the generator (its plan knows what it wrote), never from the code under test.
`samples`: the customer's exports in ../shared/samples (or BUREAU_STATS_SAMPLES), with their
accounting.json and expected.json; only where that folder exists (an extra check, CI has it).
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

YEAR = 2024
DEMO_SEED = 2024
DEMO_SCALE = 0.05  # ~3,500 rows in 105 files: every quirk and reject reason, seconds to make

Figure = int | Decimal | None


@dataclass(frozen=True)
class Corpus:
    name: str
    landing: Path
    # Relative path -> rows_read / rows_accepted / rows_rejected / rows_duplicate / verdict
    # ("published" or "quarantined") of the delivery when it is delivered once.
    accounting: dict[str, dict[str, Any]]
    # Deliveries a later version of the same period replaces within one run.
    superseded: frozenset[str]
    # Natural persons' IDs written in clear in the exports: never in clear in any output.
    person_ids: list[str]
    # Cut-off (None: the whole year) -> metric -> figure.
    expected: dict[date | None, dict[str, Figure]]
    # True when `expected` holds every metric of the catalog at each cut-off.
    complete: bool
    periods: dict[str, tuple[date, date]] = field(default_factory=dict)
    # Relative path -> the reasons its rejected rows are given (where the corpus says).
    reject_reasons: dict[str, list[str]] = field(default_factory=dict)

    def ledger_status(self, relative: str) -> str:
        """The ledger status of a delivery after one run over the whole landing area."""
        if relative in self.superseded:
            return "superseded"
        return str(self.accounting[relative]["verdict"])

    def current_files(self, source: str, until: date) -> list[str]:
        """The source's deliveries still current after the run whose period starts by `until`."""
        return sorted(
            rel
            for rel in self.accounting
            if rel.startswith(f"{source}/")
            and rel not in self.superseded
            and self.periods[rel][0] <= until
        )


def as_figure(value: Any) -> Figure:
    if value is None or isinstance(value, int):
        return value
    return Decimal(str(value))


def _periods(relatives: list[str]) -> dict[str, tuple[date, date]]:
    """Delivery periods read from the names (sources.md's naming rule), range files only."""
    out = {}
    for rel in relatives:
        m = re.search(r"_(\d{8})-(\d{8})(?:_v\d+)?\.\w+$", rel)
        if m:
            start, end = (date(int(s[:4]), int(s[4:6]), int(s[6:])) for s in m.groups())
            out[rel] = (start, end)
    return out


# --- natural persons' IDs, found in the raw bytes (independent of the connectors) ------------

_ID = re.compile(
    r"(?<![0-9A-Za-z])[1-6]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![0-9A-Za-z])"
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _valid_resident_id(value: str) -> bool:
    """GB 11643 check digit."""
    total = sum(int(c) * w for c, w in zip(value[:17], _WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()


def _raw_text(path: Path) -> str:
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def resident_ids_in(landing: Path) -> list[str]:
    """Every valid resident ID written anywhere in the exports of `landing`."""
    found: set[str] = set()
    for path in landing.rglob("*"):
        if path.is_file():
            found.update(m for m in _ID.findall(_raw_text(path)) if _valid_resident_id(m))
    return sorted(found)


# --- the two corpora ---------------------------------------------------------------------------


def demo_corpus(landing: Path) -> Corpus:
    """Generate the small demo year into `landing`; expectations from the generator's plan."""
    from demo_data import build_plan, expected_metrics, generate

    summary = generate(YEAR, landing, seed=DEMO_SEED, scale=DEMO_SCALE)
    accounting = {
        f["path"]: {
            "rows_read": f["rows_read"],
            "rows_accepted": f["rows_accepted"],
            "rows_rejected": f["rows_rejected"],
            "rows_duplicate": f["rows_duplicate"],
            "verdict": "published",  # the plan keeps every file under the reject threshold
        }
        for f in summary["files"]
    }
    # The plan's figures, each at the cut-off the published report gives it (the project's
    # copy of the reference: demo_data/reference-2024.json).
    reference = json.loads((files("demo_data") / "reference-2024.json").read_text("utf-8"))
    implied = expected_metrics(build_plan(YEAR, DEMO_SCALE))
    expected: dict[date | None, dict[str, Figure]] = {}
    for code, spec in reference["metrics"].items():
        expected.setdefault(date.fromisoformat(spec["as_of"]), {})[code] = as_figure(implied[code])
    # The offices' workbook (demo_data/manual.py) types in the published figures no export
    # holds: each is expected at its own cut-off, as published.
    manual = json.loads((files("demo_data") / "manual-figures-2024.json").read_text("utf-8"))
    for code, spec in manual["metrics"].items():
        expected.setdefault(date.fromisoformat(spec["as_of"]), {})[code] = Decimal(
            str(spec["value"])
        )
    return Corpus(
        name="demo",
        landing=landing,
        accounting=accounting,
        superseded=frozenset(f["path"] for f in summary["files"] if f["superseded"]),
        person_ids=resident_ids_in(landing),
        expected=expected,
        complete=False,
        periods={
            f["path"]: (date.fromisoformat(f["period_start"]), date.fromisoformat(f["period_end"]))
            for f in summary["files"]
        },
        reject_reasons={f["path"]: f["reject_reasons"] for f in summary["files"]},
    )


SAMPLE_CUT_OFFS: dict[str, date | None] = {
    "full_year": None,
    "as_of_2024-06-30": date(2024, 6, 30),
    "as_of_2024-10-31": date(2024, 10, 31),
}


def samples_corpus(samples: Path) -> Corpus:
    """The customer's samples with their own accounting.json and expected.json."""
    accounting = json.loads((samples / "accounting.json").read_text("utf-8"))["files"]
    doc = json.loads((samples / "expected.json").read_text("utf-8"))
    return Corpus(
        name="samples",
        landing=samples / "landing",
        accounting=accounting,
        superseded=frozenset(),  # every sample is the only version of its period
        person_ids=doc["natural_person_ids_that_must_not_appear_in_clear"],
        expected={
            cut: {code: as_figure(v) for code, v in doc[key].items()}
            for key, cut in SAMPLE_CUT_OFFS.items()
        },
        complete=True,
        periods=_periods(list(accounting)),
    )
