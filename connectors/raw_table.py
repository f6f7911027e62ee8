"""What every reader hands the connector, and how it refuses a file.

The shared vocabulary of `connectors.readers` and the format readers beside it: the table of
text cells (`RawTable`), an export read block by block (`Export`), a file verdict
(`FileRejected`) and the streaming parser's retreat (`StreamFailed`). Kept apart so that the
format readers and the connector depend on it, not on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


class FileRejected(Exception):
    """The whole file breaks the contract; `reason` is one of FILE_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class RawTable:
    """Data rows of an export: raw text cells and the same cells normalized.

    Both frames have one column per declared field (named by field), aligned on a 0..n-1
    index; `lines` is the 1-based line (CSV), sheet row (XLSX) or record number (JSON).
    """

    raw: pd.DataFrame
    normalized: pd.DataFrame
    lines: np.ndarray
    # Rows the reader could not read for certain (a formula without its value, a data row
    # above the header): the row-reject reason per row (None: read for certain) and the
    # header of the column concerned. They are rejected before any rule of the source.
    doubts: np.ndarray | None = None
    doubt_columns: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.raw)

    def slice(self, start: int, stop: int) -> RawTable:
        """Rows start..stop-1, re-indexed from 0."""
        return RawTable(
            raw=self.raw.iloc[start:stop].reset_index(drop=True),
            normalized=self.normalized.iloc[start:stop].reset_index(drop=True),
            lines=self.lines[start:stop],
            doubts=None if self.doubts is None else self.doubts[start:stop],
            doubt_columns=None if self.doubt_columns is None else self.doubt_columns[start:stop],
        )

    def doubt(self, at: np.ndarray, reason: str, column: str | None) -> None:
        """Mark rows `at` as read with a doubt (the first reason given stays)."""
        if self.doubts is None:
            self.doubts = np.full(self.rows, None, dtype=object)
            self.doubt_columns = np.full(self.rows, None, dtype=object)
        assert self.doubt_columns is not None
        at = at[self.doubts[at] == None]  # noqa: E711
        self.doubts[at] = reason
        self.doubt_columns[at] = column

    def head(self, rows: int) -> RawTable:
        return self.slice(0, rows)


def concat_tables(first: RawTable, second: RawTable) -> RawTable:
    """Two stretches of rows, in order (marks kept)."""

    def marks(t: RawTable, which: str) -> np.ndarray:
        got = getattr(t, which)
        return np.full(t.rows, None, dtype=object) if got is None else got

    doubtful = first.doubts is not None or second.doubts is not None
    return RawTable(
        raw=pd.concat([first.raw, second.raw], ignore_index=True),
        normalized=pd.concat([first.normalized, second.normalized], ignore_index=True),
        lines=np.concatenate([first.lines, second.lines]),
        doubts=np.concatenate([marks(first, "doubts"), marks(second, "doubts")])
        if doubtful
        else None,
        doubt_columns=np.concatenate(
            [marks(first, "doubt_columns"), marks(second, "doubt_columns")]
        )
        if doubtful
        else None,
    )


@dataclass
class Export:
    """A readable export: its data rows block by block, and what the reader noticed.

    `blocks()` may be called again for a second pass (the file is read again): the
    connector does that only for the rare rows it must see twice.
    """

    blocks: Callable[[], Iterator[RawTable]]
    declared_total: int | None = None
    warnings: list[str] = field(default_factory=list)


class StreamFailed(Exception):
    """The streaming CSV parser gave up (ragged rows, odd quoting, a late encoding error):
    the file is read whole by the forgiving reader instead."""
