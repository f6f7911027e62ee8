"""What reading one delivered file yields: the unit the warehouse audits and publishes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import pandas as pd
import pyarrow as pa

from connectors.canonical import to_frame
from connectors.spool import SpooledRows, in_memory

# Closed sets of reason codes (docs/ledger.md lists them). Rows are rejected with one of ROW_REASONS,
# files quarantined with one of FILE_REASONS.
ROW_REASONS = (
    "bad_date",
    "bad_enum",
    "missing_required",
    "bad_check_digit",
    "out_of_period",
    "conflicting_key",
    "bad_number",
    "rule_violation",
    "formula_without_value",
    "above_header",
)
FILE_REASONS = (
    "unreadable",
    "encoding",
    "missing_column",
    "empty",
    "truncated",
    "reject_share",
    "suite_failed",
    "too_large",
    "inconsistent",
)

Verdict = Literal["readable", "quarantine"]

# Columns of `ExtractedBatch.rejects`.
REJECT_COLUMNS = ("line", "reason", "column", "raw")


def no_rejects() -> pd.DataFrame:
    """An empty `ExtractedBatch.rejects` frame."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})


@dataclass(frozen=True)
class LandingFile:
    """A file in the landing area whose name follows the contract."""

    source: str
    path: str  # full path or fsspec URL, as given to the reader
    relative: str  # relative to the landing root, '/' separators, e.g. "registration/x.csv"
    period_start: date
    period_end: date
    version: int
    extension: str  # the extension found (may differ from the declared format -> quarantine)

    @property
    def delivery_key(self) -> tuple[date, date, int, str, str]:
        """Rule 2, the order of files first seen together: period end, then period start, then
        version (then source and name, a stable tie-breaker). Defined here only."""
        return (self.period_end, self.period_start, self.version, self.source, self.relative)


@dataclass
class ExtractedBatch:
    """One file, read and normalized; nothing written anywhere yet.

    `accepted` holds the typed rows in the source's canonical Arrow schema
    (`connectors.canonical`): `line` (1-based line/row number in the file), `partition_date`,
    then one column per declared field (tests and tools may hand over a pandas frame with
    those columns; the warehouse converts it), or spooled to disk in that schema
    (`connectors.spool.SpooledRows`: large files; read it in chunks). Personal data in it is
    already hashed/masked. `rejects` has REJECT_COLUMNS, `raw` being a JSON object
    (header -> raw text) with personal data masked and hashed.
    """

    file: LandingFile
    sha256: str
    accepted: pa.Table | pd.DataFrame | SpooledRows
    rejects: pd.DataFrame
    rows_read: int
    rows_duplicate: int
    verdict: Verdict = "readable"
    reason: str | None = None  # one of FILE_REASONS when quarantined
    detail: str | None = None  # human-readable explanation (never personal data)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def refused(cls, file: LandingFile, sha256: str, reason: str, detail: str) -> ExtractedBatch:
        """An empty, quarantined batch: content that could not be processed at all."""
        from connectors.canonical import empty_table
        from connectors.sources import SOURCES

        return cls(
            file=file,
            sha256=sha256,
            accepted=empty_table(SOURCES[file.source]),
            rejects=no_rejects(),
            rows_read=0,
            rows_duplicate=0,
            verdict="quarantine",
            reason=reason,
            detail=detail,
        )

    @property
    def source(self) -> str:
        return self.file.source

    def accepted_frame(self) -> pd.DataFrame:
        """The accepted rows as pandas (python dates, Decimal amounts): for tests and reports."""
        rows = in_memory(self.accepted)
        return rows if isinstance(rows, pd.DataFrame) else to_frame(rows)

    def discard(self) -> None:
        """Remove the spooled rows once the batch is published or quarantined."""
        if isinstance(self.accepted, SpooledRows):
            self.accepted.discard()

    @property
    def rows_accepted(self) -> int:
        return len(self.accepted)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejects)

    @property
    def accounting_closes(self) -> bool:
        return self.rows_read == self.rows_accepted + self.rows_rejected + self.rows_duplicate
