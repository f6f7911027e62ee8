"""Writing export files byte-for-byte reproducibly (no clock, no per-run temp names inside).

Each writer takes already rendered cells and writes to `<name>.part` first, then renames, so
a landing watcher never sees half a file (`*.part` is ignored by the landing contract).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import xlsxwriter

CSV_CHUNK = 50_000  # lines encoded and written at a time
CRLF = "\r\n"


def _quote(col: np.ndarray) -> np.ndarray:
    """CSV quoting (RFC 4180) only where a cell needs it."""
    out = col.astype(object)
    for i in np.flatnonzero([("," in v) or ('"' in v) or ("\n" in v) for v in out]):
        out[i] = '"' + out[i].replace('"', '""') + '"'
    return out


def csv_lines(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Join text columns into lines (vectorized object concatenation)."""
    line = _quote(columns[0])
    for col in columns[1:]:
        line = line + "," + _quote(col)
    return line


def _atomic(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(path.name + ".part")


def write_csv(path: Path, header: Sequence[str], lines: np.ndarray, encoding: str) -> None:
    """Header + lines with CRLF; `utf-8-sig` writes the BOM, `gb18030` the Chinese code page.

    Blank lines are empty strings in `lines`.
    """
    tmp = _atomic(path)
    with open(tmp, "wb") as fh:
        fh.write((",".join(header) + CRLF).encode(encoding))
        enc = "utf-8" if encoding == "utf-8-sig" else encoding
        for start in range(0, len(lines), CSV_CHUNK):
            chunk = lines[start : start + CSV_CHUNK]
            fh.write((CRLF.join(chunk.tolist()) + CRLF).encode(enc))
    os.replace(tmp, path)


def write_xlsx(
    path: Path,
    sheet: str,
    header: Sequence[str],
    rows: Iterator[Sequence[Any] | None],
    created: datetime,
    title: str | None = None,
    subtitle: str | None = None,
    footer: str | None = None,
    widths: Sequence[int] | None = None,
) -> None:
    """One sheet, streamed (constant_memory); `None` in `rows` is a blank row.

    The workbook's created date is fixed (the export time) so the bytes do not depend on
    when the generator ran.
    """
    tmp = _atomic(path)
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_numbers": False})
    wb.set_properties({"created": created, "author": "bureau-stats demo", "title": sheet})
    ws = wb.add_worksheet(sheet)
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    bold = wb.add_format({"bold": True})
    title_fmt = wb.add_format({"bold": True, "align": "center", "font_size": 14})
    for i, w in enumerate(widths or []):
        ws.set_column(i, i, w)
    r = 0
    if title is not None:
        ws.merge_range(r, 0, r, len(header) - 1, title, title_fmt)
        r += 1
    if subtitle is not None:
        ws.write_string(r, 0, subtitle)
        r += 1
    ws.write_row(r, 0, list(header), bold)
    r += 1
    for row in rows:
        if row is not None:
            for c, v in enumerate(row):
                if v is None or v == "":
                    continue
                if isinstance(v, datetime):
                    ws.write_datetime(r, c, v, date_fmt)
                elif isinstance(v, str):
                    ws.write_string(r, c, v)
                else:
                    ws.write_number(r, c, v)
        r += 1
    if footer is not None:
        ws.write_string(r, 0, footer)
    wb.close()
    os.replace(tmp, path)


def write_json(path: Path, head: dict[str, Any], records: Sequence[str], records_key: str) -> None:
    """`head` keys first, then the records array; each record is pre-serialized JSON text."""
    tmp = _atomic(path)
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("{\n")
        for k, v in head.items():
            fh.write(
                f" {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)},\n"
            )
        fh.write(f' "{records_key}": [\n')
        for start in range(0, len(records), CSV_CHUNK):
            chunk = records[start : start + CSV_CHUNK]
            last = start + len(chunk) >= len(records)
            fh.write(",\n".join(chunk))
            fh.write("\n" if last else ",\n")
        fh.write(" ]\n}\n")
    os.replace(tmp, path)


def json_records(
    fields: Sequence[str], columns: Sequence[np.ndarray], missing: np.ndarray
) -> list[str]:
    """Serialize records; where `missing[i, j]` the key j is left out of record i entirely."""
    keys = [json.dumps(f, ensure_ascii=False) + ": " for f in fields]
    enc = [
        np.array([json.dumps(v, ensure_ascii=False) for v in col], dtype=object) for col in columns
    ]
    out = []
    n = len(columns[0]) if columns else 0
    for i in range(n):
        parts = [keys[j] + enc[j][i] for j in range(len(fields)) if not missing[i, j]]
        out.append("  {" + ", ".join(parts) + "}")
    return out
