"""Generic readers, one per format: bytes of an export -> a table of text cells.

Readers know layouts (encodings, title rows, footers, JSON envelopes), not sources' rules.
They take file objects, so tests feed them inline bytes.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from connectors.sources import Source
from connectors.values import TEXT, normalize_text

UTF8_BOM = b"\xef\xbb\xbf"
HEADER_SEARCH_ROWS = 20
BLOCK_ROWS = 131_072  # rows handed to the connector at once (XLSX, JSON, whole-file CSV)
# Bytes of CSV parsed at once when streaming. pyarrow's reader holds several blocks and their
# parsed cells: 8 MiB blocks cost the reader process ~70 MiB more at its peak than 4 MiB, and
# 2 MiB blocks read ~50 % slower (bench/NOTES.md).
CSV_BLOCK_BYTES = 4 << 20
CSV_HEAD_BYTES = 1 << 20  # bytes the encoding is decided on
FOOTER_PREFIXES = ("合计", "总计")


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


def header_key(text: object) -> str:
    """Headers are matched leniently: NFKC, no spaces, no BOM."""
    value = unicodedata.normalize("NFKC", str(text or "")).replace("\ufeff", "")
    return "".join(value.split())


def _first_error(data: bytes | memoryview, encoding: str) -> int | None:
    """Offset of the first undecodable byte, checked in blocks (no copy of the whole text)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    step = 1 << 22
    for start in range(0, len(view), step):
        try:
            decoder.decode(view[start : start + step], final=start + step >= len(view))
        except UnicodeDecodeError as exc:
            return start + exc.start
    return None


_WIDE_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xff\xfe", b"\xfe\xff")


def _nul_share(data: bytes) -> float:
    return data.count(0) / len(data) if data else 0.0


def refuse_wide_unicode(head: bytes) -> None:
    """UTF-16 / UTF-32 text (a byte-order mark, or a NUL in every other byte) is an encoding
    the contract does not accept: say so, rather than `unreadable` for its NUL bytes."""
    wide = head.startswith(_WIDE_BOMS)
    if not wide and len(head) >= 16:
        # UTF-16 without a BOM: every ASCII character (digits, commas, line ends) puts a NUL
        # in one byte parity, hardly ever in the other (a file of zeros is corrupt instead).
        shares = sorted((_nul_share(head[:4096:2]), _nul_share(head[1:4096:2])))
        wide = shares[1] >= 0.25 and shares[0] <= 0.02
    if wide:
        raise FileRejected("encoding", "UTF-16 or UTF-32 text; exports are UTF-8 or GB18030")


def detect_csv_encoding(data: bytes) -> tuple[str, int]:
    """(encoding, bytes to skip): UTF-8 with or without BOM, else GB18030, else `encoding`."""
    refuse_wide_unicode(data[:4096])
    if data.startswith(UTF8_BOM):
        bad = _first_error(memoryview(data)[len(UTF8_BOM) :], "utf-8")
        if bad is not None:
            raise FileRejected("encoding", f"UTF-8 BOM but invalid UTF-8 at byte {bad}")
        return "utf-8", len(UTF8_BOM)
    if _first_error(data, "utf-8") is None:
        return "utf-8", 0
    bad = _first_error(data, "gb18030")
    if bad is not None:
        raise FileRejected(
            "encoding", f"neither UTF-8 nor GB18030 (undecodable byte at offset {bad})"
        )
    return "gb18030", 0


def check_declared_encoding(source: Source, encoding: str, data: bytes) -> None:
    """The detected encoding must be one the contract names for the source. ASCII is both."""
    if encoding in source.encodings:
        return
    if encoding == "utf-8" and data.isascii():
        return
    found = "UTF-8" if encoding == "utf-8" else "GB18030 (not UTF-8)"
    named = " or ".join("UTF-8" if e == "utf-8" else "GB18030" for e in source.encodings)
    raise FileRejected("encoding", f"{found} text, but {source.code} exports are {named}")


def decode_csv(data: bytes) -> tuple[str, str]:
    """The whole text of a CSV export and the encoding it was in."""
    encoding, skip = detect_csv_encoding(data)
    return data[skip:].decode(encoding), encoding


def _csv_grid(data: bytes, source: Source) -> pd.DataFrame:
    """All cells as text, blank lines kept (so row i is line i + 1)."""
    encoding, skip = detect_csv_encoding(data)
    check_declared_encoding(source, encoding, data[skip:])
    if b"\x00" in data:
        raise FileRejected("unreadable", "the file contains NUL bytes")
    if not data[skip:].strip():
        return pd.DataFrame()
    try:
        grid = _arrow_csv(data, encoding, skip)
    except (pa.ArrowInvalid, ValueError, csv.Error):
        # Ragged rows or odd quoting: the slower, forgiving reader.
        rows = _python_csv(data[skip:].decode(encoding))
        grid = pd.DataFrame(rows, dtype=object).fillna("").astype("str")
    grid.columns = range(grid.shape[1])
    return grid


def _python_csv(text: str) -> list[list[str]]:
    """Python's CSV reader (any line end, CR alone included). A quote still open at the end of
    the file is `truncated`: the rows after it would be one cell."""
    try:
        return list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise FileRejected("truncated", "a quote is left open at the end of the file") from None
    try:  # stray characters around quotes: kept as typed, as spreadsheets do
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FileRejected("unreadable", f"malformed CSV: {exc}") from None


_LINE_END = re.compile(rb"\r\n|\r|\n")


def _csv_width(first_line: bytes, encoding: str) -> int:
    """Columns of the first line: the parser's width (a longer row is a ragged file). Old Mac
    exports end lines with CR alone."""
    text = _LINE_END.split(first_line, maxsplit=1)[0].decode(encoding, errors="replace")
    return max(len(next(csv.reader(io.StringIO(text)), [""])), 1)


def _csv_options(width: int, encoding: str, block_bytes: int) -> dict[str, Any]:
    """pyarrow CSV options: every column text, blank lines kept, GB18030 transcoded."""
    from pyarrow import csv as pacsv

    names = [f"c{i}" for i in range(width)]
    return {
        "read_options": pacsv.ReadOptions(
            column_names=names,
            block_size=block_bytes,
            encoding="utf8" if encoding == "utf-8" else encoding,
        ),
        "parse_options": pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        "convert_options": pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _arrow_csv(data: bytes, encoding: str, skip: int) -> pd.DataFrame:
    """pyarrow's multi-threaded CSV parser over the whole file."""
    from pyarrow import csv as pacsv

    width = _csv_width(data[skip : skip + (1 << 16)], encoding)
    table = pacsv.read_csv(
        pa.py_buffer(memoryview(data)[skip:]), **_csv_options(width, encoding, 16 << 20)
    )
    return table.to_pandas(types_mapper={pa.string(): TEXT}.get)


def _xlsx_grid(
    data: bytes,
    source: Source,
    warnings: list[str],
    formulas: dict[int, set[int]] | None = None,
) -> pd.DataFrame:
    """The declared sheet's cells; `formulas` receives its formula cells without a cached
    value (sheet row -> grid columns). The workbook is looked over first
    (`connectors.xlsx_scan`): its bounds, and the sheet to read."""
    import python_calamine

    from connectors.xlsx_cells import text_grid
    from connectors.xlsx_scan import scan_workbook

    scan = scan_workbook(data, source.sheet)
    warnings.extend(scan.warnings)
    if formulas is not None:
        formulas.update(scan.formulas)
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises several error types for broken zips/XML
        raise FileRejected(
            "unreadable", f"not a readable XLSX workbook ({type(exc).__name__})"
        ) from None
    sheet_name = scan.sheet
    try:
        rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    except Exception as exc:
        raise FileRejected(
            "unreadable", f"sheet {sheet_name!r} cannot be read ({type(exc).__name__})"
        ) from None
    # The texts of `excel_cell_text`, converted a column at a time by cell type.
    return text_grid(rows)


def _whole_number(value: object) -> int | None:
    """A record count as exporters write it: `40`, `40.0` or `"40"`; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: a key given twice has two readings."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _json_records(data: bytes, source: Source) -> tuple[pd.DataFrame, int | None]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected("encoding", f"JSON export is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise FileRejected("empty", "the file is empty")
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        # Only names the contract knows are quoted: another key could be anyone's data.
        known = {source.json_records, source.json_total, *(c.header for c in source.columns)}
        key = repr(exc.key) if exc.key in known else "a key"
        raise FileRejected(
            "unreadable", f"{key} is given twice in one JSON object: two readings of the export"
        ) from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) - 1:
            raise FileRejected("truncated", "the JSON document ends early") from None
        raise FileRejected("unreadable", f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise FileRejected("unreadable", "JSON nested too deeply") from None
    if not isinstance(document, dict) or not isinstance(document.get(source.json_records), list):
        raise FileRejected("unreadable", f"expected an object with a {source.json_records!r} list")
    records = document[source.json_records]
    total: int | None = None
    if source.json_total:
        total = _whole_number(document.get(source.json_total))
        if total is None:
            raise FileRejected("truncated", f"no integer {source.json_total!r} in the export")
    if not all(isinstance(r, dict) for r in records):
        raise FileRejected("unreadable", "a record is not a JSON object")
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    cells = {}
    for name in frame.columns:
        col = frame[name]
        present = col.notna()
        text_col = pd.Series("", index=frame.index, dtype="str")
        if present.any():
            text_col[present] = [_json_cell_text(v) for v in col[present].tolist()]
        cells[str(name)] = text_col
    return pd.DataFrame(cells, index=frame.index), total


def _json_cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _blank_rows(normalized: pd.DataFrame) -> np.ndarray:
    if normalized.shape[1] == 0:
        return np.ones(len(normalized), dtype=bool)
    return np.array(normalized.isna().all(axis=1).to_numpy(dtype=bool), copy=True)


@dataclass
class _Layout:
    """Where the header is and which grid column holds each declared field."""

    header_at: int
    positions: dict[str, int]
    extra: list[int]  # grid columns holding no declared field


def _find_layout(head: pd.DataFrame, source: Source, *, whole: bool) -> _Layout:
    """The header row among the first rows of the grid (`whole`: `head` is the whole grid)."""
    if head.empty:
        raise FileRejected("empty", "no rows at all")
    wanted = {header_key(c.header): c.field for c in source.columns}
    head = head.head(HEADER_SEARCH_ROWS * 10)
    head_blank = _blank_rows(pd.DataFrame({c: normalize_text(head[c]) for c in head.columns}))
    header_at = None
    for i in np.flatnonzero(~head_blank)[:HEADER_SEARCH_ROWS]:
        keys = {header_key(v) for v in head.iloc[i].tolist()}
        if len(keys & wanted.keys()) * 2 >= len(wanted):
            header_at = int(i)
            break
    if header_at is None:
        if head_blank.all() and whole:
            raise FileRejected("empty", "only blank lines")
        raise FileRejected(
            "missing_column",
            "no header row with the declared columns (expected "
            + ", ".join(c.header for c in source.columns)
            + ")",
        )
    positions: dict[str, int] = {}
    for pos, value in enumerate(head.iloc[header_at].tolist()):
        found = wanted.get(header_key(value))
        if found and found not in positions:
            positions[found] = pos
    missing = [c.header for c in source.columns if c.field not in positions]
    if missing:
        raise FileRejected("missing_column", "missing columns: " + ", ".join(missing))
    extra = [c for c in head.columns if c not in positions.values()]
    return _Layout(header_at, {c.field: positions[c.field] for c in source.columns}, extra)


@dataclass
class _Cut:
    """Data rows of a stretch of the grid, and the cells of its last one (footer check)."""

    table: RawTable
    last_cells: list[str]


def _cut(body: pd.DataFrame, layout: _Layout, first_line: int) -> _Cut:
    """Declared columns of grid rows (`first_line` = line of body's first row), blanks out."""
    raw = pd.DataFrame({f: body[pos] for f, pos in layout.positions.items()}).reset_index(drop=True)
    norm = pd.DataFrame({f: normalize_text(raw[f]) for f in layout.positions})
    # Cells beyond the declared columns count too: a row is blank only when every cell is.
    extra = [c for c in layout.extra if c in body.columns]
    blank = _blank_rows(norm)
    if extra and blank.any():
        rest = body[extra].reset_index(drop=True)
        blank &= _blank_rows(pd.DataFrame({c: normalize_text(rest[c]) for c in extra}))
    keep = np.flatnonzero(~blank)
    last_cells = [str(v) for v in body.iloc[keep[-1]].tolist()] if len(keep) else []
    if len(keep) < len(raw):
        raw = raw.iloc[keep].reset_index(drop=True)
        norm = norm.iloc[keep].reset_index(drop=True)
    return _Cut(RawTable(raw=raw, normalized=norm, lines=keep + first_line), last_cells)


def _without_footer(cut: _Cut) -> RawTable:
    """The last data row of the file is dropped when it is a 合计/总计 line."""
    first_text = next((v.strip(" \u3000") for v in cut.last_cells if v.strip(" \u3000")), "")
    table = cut.table
    if table.rows and first_text.startswith(FOOTER_PREFIXES):
        return table.head(table.rows - 1)
    return table


def _may_hold_line_breaks(cells: pd.Series) -> bool:
    """Whether the column's text bytes hold a CR or LF at all: one pass over Arrow's data
    buffers (~20x faster than a per-cell search, which runs only when this says yes)."""
    try:
        array = pa.chunked_array(pa.array(cells, type=pa.large_string()))
    except (pa.ArrowException, TypeError, ValueError):
        return True
    for chunk in array.chunks:
        data = chunk.buffers()[2]
        if data is not None:
            octets = np.frombuffer(data, dtype=np.uint8)
            if (octets == 10).any() or (octets == 13).any():
                return True
    return False


def _refuse_line_breaks(grid: pd.DataFrame, layout: _Layout, source: Source, row0: int) -> None:
    """A CSV cell holding a line break where the contract declares none (`Column.multiline`):
    a stray or unclosed quote has made one cell of several lines, and which rows they were
    cannot be told. Rejecting the one row would publish the file without the rows swallowed,
    so the file is refused. `row0`: the CSV row of the grid's first row (1-based)."""
    allowed = {layout.positions[c.field] for c in source.columns if c.multiline}
    by_position = {pos: source.column(f).header for f, pos in layout.positions.items()}
    for col in grid.columns:
        if col in allowed:
            continue
        if not _may_hold_line_breaks(grid[col]):
            continue
        cells = grid[col].astype(TEXT) if grid[col].dtype != TEXT else grid[col]
        hit = cells.str.contains("\n", regex=False) | cells.str.contains("\r", regex=False)
        hit = hit.fillna(False).to_numpy(dtype=bool)
        if hit.any():
            row = row0 + int(np.flatnonzero(hit)[0])
            name = by_position.get(col, f"column {col + 1}")
            raise FileRejected(
                "unreadable",
                f"CSV row {row}: a line break inside a {name} cell, which holds none: a stray "
                "or unclosed quote joins rows that cannot be told apart",
            )


def _above_header(grid: pd.DataFrame, layout: _Layout) -> RawTable | None:
    """Data rows above the header line, rejected `above_header` (counted, never dropped). A
    title line (one cell, as the title and export-time rows of food_license) is no data."""
    head = grid.iloc[: layout.header_at]
    if head.empty:
        return None
    filled = np.zeros(len(head), dtype=int)
    for c in head.columns:
        filled += normalize_text(head[c]).notna().to_numpy(dtype=int)
    at = np.flatnonzero(filled >= 2)
    if not len(at):
        return None
    rows = head.iloc[at]
    raw = pd.DataFrame({f: rows[pos] for f, pos in layout.positions.items()}).reset_index(drop=True)
    table = RawTable(
        raw=raw,
        normalized=pd.DataFrame({f: normalize_text(raw[f]) for f in layout.positions}),
        lines=at + 1,
    )
    table.doubt(np.arange(len(at)), "above_header", None)
    return table


def _doubt_formulas(
    table: RawTable, formulas: dict[int, set[int]], layout: _Layout, source: Source
) -> None:
    """Rows with a formula cell whose value was not saved (`formula_without_value`): every
    reader takes it as blank, so a 罚没金额 of 430,000 would count as 0."""
    by_position = {pos: source.column(f).header for f, pos in layout.positions.items()}
    where = {line: i for i, line in enumerate(table.lines.tolist()) if line in formulas}
    for line, i in where.items():
        declared = sorted(c for c in formulas[line] if c in by_position)
        if declared:
            table.doubt(np.array([i]), "formula_without_value", by_position[declared[0]])


def _locate(
    grid: pd.DataFrame,
    source: Source,
    *,
    formulas: dict[int, set[int]] | None = None,
    csv_text: bool = False,
) -> RawTable:
    """Find the header row, drop blank lines and the footer, map headers to fields; rows read
    with a doubt are marked (formulas without a value, data rows above the header)."""
    layout = _find_layout(grid, source, whole=len(grid) <= HEADER_SEARCH_ROWS * 10)
    if csv_text:
        _refuse_line_breaks(grid, layout, source, 1)
    body = grid.iloc[layout.header_at + 1 :]
    table = _without_footer(_cut(body, layout, layout.header_at + 2))
    if table.rows == 0:
        raise FileRejected("empty", "a header but no data rows")
    if formulas:
        _doubt_formulas(table, formulas, layout, source)
    above = _above_header(grid, layout)
    return table if above is None else concat_tables(above, table)


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


def _slices(table: RawTable, rows: int) -> Callable[[], Iterator[RawTable]]:
    def blocks() -> Iterator[RawTable]:
        for start in range(0, table.rows, rows):
            yield table.slice(start, start + rows)

    return blocks


class _NulCheck:
    """A file object that notes NUL bytes as the CSV parser reads through it."""

    def __init__(self, fp: IO[bytes]) -> None:
        self._fp = fp
        self.nul = False
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        chunk = self._fp.read(size)
        if b"\x00" in chunk:
            self.nul = True
        return chunk

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


def _csv_encoding(fp: IO[bytes], source: Source) -> tuple[str, int]:
    """The encoding, decided on the first bytes (a late surprise fails the stream) and held to
    the ones the contract names for the source."""
    fp.seek(0)
    head = fp.read(CSV_HEAD_BYTES)
    encoding, skip = _head_encoding(head)
    check_declared_encoding(source, encoding, head[skip:])
    return encoding, skip


def _head_encoding(head: bytes) -> tuple[str, int]:
    if not head:
        raise FileRejected("empty", "the file is empty (0 bytes)")
    refuse_wide_unicode(head)
    if b"\x00" in head:
        raise FileRejected("unreadable", "the file contains NUL bytes")
    complete = len(head) < CSV_HEAD_BYTES
    skip = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    if not head[skip:].strip() and complete:
        raise FileRejected("empty", "no rows at all")
    if complete:
        return detect_csv_encoding(head)
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head[skip:], final=False)
        except UnicodeDecodeError:
            if skip:
                raise FileRejected("encoding", "UTF-8 BOM but invalid UTF-8") from None
            continue
        return encoding, skip
    raise FileRejected("encoding", "neither UTF-8 nor GB18030")


def _csv_blocks(
    fp: IO[bytes], source: Source, encoding: str, skip: int, block_bytes: int
) -> Iterator[RawTable]:
    """Stream a CSV export from its start: pyarrow parses (and transcodes) `block_bytes` at a
    time, so only one block of cells is in memory; raises StreamFailed where the whole-file
    reader is needed."""
    from pyarrow import csv as pacsv

    fp.seek(skip)
    try:
        width = _csv_width(fp.read(1 << 16), encoding)
    except csv.Error as exc:
        raise StreamFailed(str(exc)) from None
    fp.seek(skip)
    checked = _NulCheck(fp)
    try:
        reader = pacsv.open_csv(checked, **_csv_options(width, encoding, block_bytes))
    except (pa.ArrowException, ValueError, csv.Error) as exc:
        raise StreamFailed(str(exc)) from None
    mapper = {pa.string(): TEXT}.get

    def grids() -> Iterator[pd.DataFrame]:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowException, ValueError, UnicodeDecodeError) as exc:
                raise StreamFailed(str(exc)) from None
            if checked.nul:
                raise FileRejected("unreadable", "the file contains NUL bytes")
            grid = batch.to_pandas(types_mapper=mapper)
            grid.columns = range(grid.shape[1])
            yield grid

    # The header is looked for in the first rows; gather enough of them.
    stream = grids()
    head = pd.DataFrame()
    whole = False
    while len(head) < HEADER_SEARCH_ROWS * 10:
        grid = next(stream, None)
        if grid is None:
            whole = True
            break
        head = grid if head.empty else pd.concat([head, grid], ignore_index=True)
    layout = _find_layout(head, source, whole=whole)
    _refuse_line_breaks(head, layout, source, 1)
    above = _above_header(head, layout)

    def first(table: RawTable) -> RawTable:
        nonlocal above
        if above is None:
            return table
        table, above = concat_tables(above, table), None
        return table

    pending: _Cut | None = None
    yielded = 0
    offset = layout.header_at + 1  # grid rows before `body`
    body: pd.DataFrame | None = head.iloc[layout.header_at + 1 :]
    while body is not None:
        if offset >= len(head):
            _refuse_line_breaks(body, layout, source, offset + 1)
        cut = _cut(body, layout, offset + 1)
        offset += len(body)
        if cut.table.rows:
            if pending is not None:
                yielded += pending.table.rows
                yield first(pending.table)
            pending = cut
        body = next(stream, None)
    if checked.nul:
        raise FileRejected("unreadable", "the file contains NUL bytes")
    last = _without_footer(pending) if pending is not None else None
    if last is not None and last.rows:
        yielded += last.rows
        yield first(last)
    if not yielded:
        raise FileRejected("empty", "a header but no data rows")


def read_export(fp: IO[bytes], source: Source, extension: str, *, stream: bool = True) -> Export:
    """Read one export of `source` (the whole file object, from its start). Raises
    FileRejected with a reason code.

    CSV is streamed block by block (`stream`) unless the streaming parser gives up
    (StreamFailed, raised while iterating): callers then read again with `stream=False`.
    XLSX and JSON documents are parsed whole, then handed over in blocks.
    """
    if extension != source.extension:
        raise FileRejected(
            "unreadable", f"a .{extension} file where {source.code} exports are .{source.extension}"
        )
    if source.format == "csv" and stream:
        # Encoding and emptiness are file verdicts: decided now, once for every pass.
        encoding, skip = _csv_encoding(fp, source)

        def blocks() -> Iterator[RawTable]:
            return _csv_blocks(fp, source, encoding, skip, CSV_BLOCK_BYTES)

        return Export(blocks=blocks)
    fp.seek(0)
    data = fp.read()
    if not data:
        raise FileRejected("empty", "the file is empty (0 bytes)")
    if source.format == "json":
        frame, total = _json_records(data, source)
        del data
        missing = [c.header for c in source.columns if c.header not in frame.columns]
        if len(frame) == 0:
            if total:
                raise FileRejected("truncated", f"'total' says {total} records, found 0")
            raise FileRejected("empty", "no records")
        if missing:
            raise FileRejected(
                "missing_column", "missing keys in every record: " + ", ".join(missing)
            )
        raw = pd.DataFrame({c.field: frame[c.header] for c in source.columns})
        norm = pd.DataFrame({c.field: normalize_text(raw[c.field]) for c in source.columns})
        table = RawTable(
            raw=raw.reset_index(drop=True),
            normalized=norm.reset_index(drop=True),
            lines=np.arange(1, len(raw) + 1),
        )
        return Export(blocks=_slices(table, BLOCK_ROWS), declared_total=total)
    warnings: list[str] = []
    formulas: dict[int, set[int]] = {}
    if source.format == "csv":
        grid = _csv_grid(data, source)
    else:
        grid = _xlsx_grid(data, source, warnings, formulas)
    del data
    table = _locate(grid, source, formulas=formulas, csv_text=source.format == "csv")
    return Export(blocks=_slices(table, BLOCK_ROWS), warnings=warnings)
