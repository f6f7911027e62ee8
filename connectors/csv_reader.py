"""The CSV reader: encoding detection, and the grid of cells, whole or streamed in blocks.

Exports are UTF-8 (with or without BOM) or GB18030, as the contract names per source. The
file is streamed through pyarrow's parser a block of bytes at a time; where that parser gives
up (ragged rows, odd quoting) the whole file is read by Python's forgiving reader instead.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from typing import IO, Any

import pandas as pd
import pyarrow as pa

from connectors.layout import (
    HEADER_SEARCH_ROWS,
    Cut,
    above_header,
    cut_rows,
    find_layout,
    refuse_line_breaks,
    without_footer,
)
from connectors.raw_table import Export, FileRejected, RawTable, StreamFailed, concat_tables
from connectors.sources import Source
from connectors.values import TEXT

UTF8_BOM = b"\xef\xbb\xbf"
# Bytes of CSV parsed at once when streaming. pyarrow's reader holds several blocks and their
# parsed cells: 8 MiB blocks cost the reader process ~70 MiB more at its peak than 4 MiB, and
# 2 MiB blocks read ~50 % slower (bench/NOTES.md).
CSV_BLOCK_BYTES = 4 << 20
CSV_HEAD_BYTES = 1 << 20  # bytes the encoding is decided on


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


def csv_grid(data: bytes, source: Source) -> pd.DataFrame:
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
    layout = find_layout(head, source, whole=whole)
    refuse_line_breaks(head, layout, source, 1)
    above = above_header(head, layout)

    def first(table: RawTable) -> RawTable:
        nonlocal above
        if above is None:
            return table
        table, above = concat_tables(above, table), None
        return table

    pending: Cut | None = None
    yielded = 0
    offset = layout.header_at + 1  # grid rows before `body`
    body: pd.DataFrame | None = head.iloc[layout.header_at + 1 :]
    while body is not None:
        if offset >= len(head):
            refuse_line_breaks(body, layout, source, offset + 1)
        cut = cut_rows(body, layout, offset + 1)
        offset += len(body)
        if cut.table.rows:
            if pending is not None:
                yielded += pending.table.rows
                yield first(pending.table)
            pending = cut
        body = next(stream, None)
    if checked.nul:
        raise FileRejected("unreadable", "the file contains NUL bytes")
    last = without_footer(pending) if pending is not None else None
    if last is not None and last.rows:
        yielded += last.rows
        yield first(last)
    if not yielded:
        raise FileRejected("empty", "a header but no data rows")


def stream_csv(fp: IO[bytes], source: Source) -> Export:
    """A CSV export streamed block by block (StreamFailed, raised while iterating, asks for
    the whole-file reader)."""
    # Encoding and emptiness are file verdicts: decided now, once for every pass.
    encoding, skip = _csv_encoding(fp, source)

    def blocks() -> Iterator[RawTable]:
        return _csv_blocks(fp, source, encoding, skip, CSV_BLOCK_BYTES)

    return Export(blocks=blocks)
