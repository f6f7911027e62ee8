"""Generic readers, one per format: bytes of an export -> a table of text cells.

Readers know layouts (encodings, title rows, footers, JSON envelopes), not sources' rules.
They take file objects, so tests feed them inline bytes.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import unicodedata
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from connectors.sources import Source
from connectors.values import excel_cell_text, normalize_text

UTF8_BOM = b"\xef\xbb\xbf"
HEADER_SEARCH_ROWS = 20
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
    declared_total: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.raw)


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


def detect_csv_encoding(data: bytes) -> tuple[str, int]:
    """(encoding, bytes to skip): UTF-8 with or without BOM, else GB18030, else `encoding`."""
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


def decode_csv(data: bytes) -> tuple[str, str]:
    """The whole text of a CSV export and the encoding it was in."""
    encoding, skip = detect_csv_encoding(data)
    return data[skip:].decode(encoding), encoding


def _csv_grid(data: bytes) -> pd.DataFrame:
    """All cells as text, blank lines kept (so row i is line i + 1)."""
    encoding, skip = detect_csv_encoding(data)
    if b"\x00" in data:
        raise FileRejected("unreadable", "the file contains NUL bytes")
    if not data[skip:].strip():
        return pd.DataFrame()
    try:
        grid = _arrow_csv(data, encoding, skip)
    except (pa.ArrowInvalid, ValueError, csv.Error):
        # Ragged rows or odd quoting: the slower, forgiving reader.
        try:
            rows = list(csv.reader(io.StringIO(data[skip:].decode(encoding))))
        except csv.Error as exc:
            raise FileRejected("unreadable", f"malformed CSV: {exc}") from None
        grid = pd.DataFrame(rows, dtype=object).fillna("").astype("str")
    grid.columns = range(grid.shape[1])
    return grid


def _arrow_csv(data: bytes, encoding: str, skip: int) -> pd.DataFrame:
    """pyarrow's multi-threaded CSV parser straight from the bytes, every column as text,
    blank lines kept. GB18030 is transcoded block by block."""
    from pyarrow import csv as pacsv

    head = data[skip : skip + (1 << 16)]
    first = head.split(b"\n", 1)[0].decode(encoding, errors="replace")
    width = max(len(next(csv.reader(io.StringIO(first)), [""])), 1)
    names = [f"c{i}" for i in range(width)]
    table = pacsv.read_csv(
        pa.py_buffer(memoryview(data)[skip:]),
        read_options=pacsv.ReadOptions(
            column_names=names,
            block_size=16 << 20,
            encoding="utf8" if encoding == "utf-8" else encoding,
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table.to_pandas(
        types_mapper={pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get
    )


def _xlsx_grid(data: bytes, source: Source, warnings: list[str]) -> pd.DataFrame:
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises several error types for broken zips/XML
        raise FileRejected(
            "unreadable", f"not a readable XLSX workbook ({type(exc).__name__})"
        ) from None
    names = book.sheet_names
    if not names:
        raise FileRejected("unreadable", "the workbook has no sheets")
    sheet_name = source.sheet if source.sheet in names else names[0]
    if source.sheet and source.sheet not in names:
        warnings.append(f"sheet {source.sheet!r} not found; read the first sheet {sheet_name!r}")
    try:
        rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    except Exception as exc:
        raise FileRejected(
            "unreadable", f"sheet {sheet_name!r} cannot be read ({type(exc).__name__})"
        ) from None
    text_rows = [[excel_cell_text(cell) for cell in row] for row in rows]
    grid = pd.DataFrame(text_rows, dtype=object).fillna("").astype("str")
    grid.columns = range(grid.shape[1])
    return grid


def _json_records(data: bytes, source: Source) -> tuple[pd.DataFrame, int | None]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected("encoding", f"JSON export is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise FileRejected("empty", "the file is empty")
    try:
        document = json.loads(text)
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
        declared = document.get(source.json_total)
        if not isinstance(declared, int) or isinstance(declared, bool):
            raise FileRejected("truncated", f"no integer {source.json_total!r} in the export")
        total = declared
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


def _locate(grid: pd.DataFrame, source: Source) -> RawTable:
    """Find the header row, drop blank lines and the footer, map headers to fields."""
    if grid.empty:
        raise FileRejected("empty", "no rows at all")
    wanted = {header_key(c.header): c.field for c in source.columns}
    head = grid.head(HEADER_SEARCH_ROWS * 10)
    head_blank = _blank_rows(pd.DataFrame({c: normalize_text(head[c]) for c in head.columns}))
    header_at = None
    for i in np.flatnonzero(~head_blank)[:HEADER_SEARCH_ROWS]:
        keys = {header_key(v) for v in head.iloc[i].tolist()}
        if len(keys & wanted.keys()) * 2 >= len(wanted):
            header_at = int(i)
            break
    if header_at is None:
        if head_blank.all() and len(grid) <= len(head):
            raise FileRejected("empty", "only blank lines")
        raise FileRejected(
            "missing_column",
            "no header row with the declared columns (expected "
            + ", ".join(c.header for c in source.columns)
            + ")",
        )
    positions: dict[str, int] = {}
    for pos, value in enumerate(grid.iloc[header_at].tolist()):
        found = wanted.get(header_key(value))
        if found and found not in positions:
            positions[found] = pos
    missing = [c.header for c in source.columns if c.field not in positions]
    if missing:
        raise FileRejected("missing_column", "missing columns: " + ", ".join(missing))
    fields = [c.field for c in source.columns]
    body = grid.iloc[header_at + 1 :]
    raw = pd.DataFrame({f: body[positions[f]] for f in fields}).reset_index(drop=True)
    norm = pd.DataFrame({f: normalize_text(raw[f]) for f in fields})
    # Cells beyond the declared columns count too: a row is blank only when every cell is.
    extra = [c for c in grid.columns if c not in positions.values()]
    blank = _blank_rows(norm)
    if extra and blank.any():
        rest = body[extra].reset_index(drop=True)
        blank &= _blank_rows(pd.DataFrame({c: normalize_text(rest[c]) for c in extra}))
    keep = ~blank
    data_rows = np.flatnonzero(keep)
    if len(data_rows):
        last = data_rows[-1]
        first_cell = grid.iloc[header_at + 1 + last].tolist()
        first_text = next(
            (str(v).strip(" \u3000") for v in first_cell if str(v).strip(" \u3000")), ""
        )
        if first_text.startswith(FOOTER_PREFIXES):
            keep[last] = False
            data_rows = data_rows[:-1]
    if len(data_rows) == 0:
        raise FileRejected("empty", "a header but no data rows")
    if not keep.all():
        raw = raw[keep].reset_index(drop=True)
        norm = norm[keep].reset_index(drop=True)
    return RawTable(raw=raw, normalized=norm, lines=data_rows + header_at + 2)


def read_export(fp: IO[bytes], source: Source, extension: str) -> RawTable:
    """Read one export of `source`. Raises FileRejected with a reason code."""
    if extension != source.extension:
        raise FileRejected(
            "unreadable", f"a .{extension} file where {source.code} exports are .{source.extension}"
        )
    data = fp.read()
    if not data:
        raise FileRejected("empty", "the file is empty (0 bytes)")
    if source.format == "json":
        frame, total = _json_records(data, source)
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
        return RawTable(
            raw=raw.reset_index(drop=True),
            normalized=norm.reset_index(drop=True),
            lines=np.arange(1, len(raw) + 1),
            declared_total=total,
        )
    warnings: list[str] = []
    if source.format == "csv":
        grid = _csv_grid(data)
    else:
        grid = _xlsx_grid(data, source, warnings)
    table = _locate(grid, source)
    table.warnings.extend(warnings)
    return table
