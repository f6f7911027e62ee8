"""A workbook looked over before it is parsed: bounded, cheap, from the zip directory and the
sheet's XML streamed through regular expressions.

python-calamine trusts what a workbook says: one cell at XFD1048576 makes it allocate the whole
16,384 x 1,048,576 range, and a 600 MB shared string (0.6 MB zipped) is decompressed whole; both
end in a Rust allocation failure that aborts the process. So the zip directory's sizes, the
sheet's declared and actual extent, and every cell's text length are checked here first, and
a workbook beyond the limits is refused `too_large`. The same pass chooses the sheet (hidden
sheets are never read; two sheets answering to the declared name refuse the workbook) and
finds formula cells without a cached value (read as blank by any reader: never a figure).
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from xml.etree import ElementTree

import pyarrow as pa
import pyarrow.compute as pc

from connectors.raw_table import FileRejected

# Limits: far above any export the contract describes, far below what breaks the reader.
MAX_MEMBERS = 10_000
MAX_UNCOMPRESSED = 2 << 30  # bytes of XML in the whole workbook (the zip directory's word)
MAX_XML_MEMBER = 1 << 30  # bytes of the sheet or shared strings, counted while inflating
MAX_OTHER_MEMBER = 64 << 20  # bytes of any other part calamine reads (workbook, styles, rels)
MAX_CELL_BYTES = 1 << 20  # one cell's text (Excel itself stops at 32,767 characters)
MAX_ROWS = 1_048_576  # Excel's own limits
MAX_COLUMNS = 16_384
MAX_CELLS = 20_000_000  # rows x columns of the range the reader allocates
CHUNK = 1 << 20

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DIMENSION = re.compile(rb'<dimension\b[^>]*?\bref="([A-Za-z]*)(\d*)(?::([A-Za-z]*)(\d*))?"')
_CELL_REF = re.compile(rb'<c\b[^>]*?\sr="([A-Z]{1,4})(\d{1,9})"')
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(rb'\sr="([A-Z]{1,4})(\d{1,9})"')
_CACHED = re.compile(rb"<v\b[^>]*>[^<]")
_TEXT = re.compile(rb"<([tv])\b[^>]*>([^<]*)</\1>")
_LONG_TEXT = re.compile(rb"<([tv])\b[^>]*>[^<]{%d}" % (MAX_CELL_BYTES + 1))
# Texts spelled as fastexcel spells a datetime or boolean cell (`connectors.xlsx_columns`):
# where no text cell has them, such a spelling is a cell of that type.
_DATETIME_TEXT = rb"\s*[+-]?\d{4,}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?\s*"
_DATETIME_SPELLED = re.compile(rb"<([tv])\b[^>]*>" + _DATETIME_TEXT + rb"</\1>")
_CLOCK = re.compile(rb":\d\d:\d\d(?:\.\d+)?\s*</[tv]>")  # its tail: a quick first search
_BOOL_SPELLED = re.compile(rb"<([tv])\b[^>]*>\s*(?:true|false)\s*</\1>")
# What sends a block down the exact checks below (RE2, one pass over the block): what
# `_look_alike` looks for, and in the sheet formulas and ISO-dated cells. Each exact check
# needs one of these, so a block without any is passed over.
_RICH_OR_BOOL = r"<r>|<r |&#|true|false"
_LOOKS_ALIKE = _RICH_OR_BOOL + r"|:\d\d:\d\d"
_RARE_IN_SHEET = _LOOKS_ALIKE + r"|<f|t=\"d\"|t='d'"


@dataclass
class WorkbookScan:
    """What the reader needs from the scan: the sheet to read and cells it must not trust."""

    sheet: str
    formulas: dict[int, set[int]] = field(default_factory=dict)  # 1-based row -> 0-based cols
    rows: int = 0  # the last row holding a cell
    iso_dates: bool = False  # cells typed t="d" (ISO text dates): read cell by cell
    look_alike: set[str] = field(default_factory=set)  # spellings some text cell may have
    # Where the text cells spelled like a datetime are: column -> 0-based rows (None: some
    # may be anywhere, as a shared string or in rich text).
    datetime_texts: dict[int, set[int]] | None = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def column_number(letters: bytes) -> int:
    """`A` -> 1, `XFD` -> 16384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _too_large(detail: str) -> FileRejected:
    return FileRejected("too_large", detail)


def _chunks(book: zipfile.ZipFile, name: str, cap: int) -> Iterator[bytes]:
    """A member inflated a chunk at a time, refused once it passes `cap` bytes (whatever the
    zip directory claims)."""
    seen = 0
    with book.open(name) as fp:
        while chunk := fp.read(CHUNK):
            seen += len(chunk)
            if seen > cap:
                raise _too_large(f"{name} inflates to more than {cap >> 20} MiB")
            if b"<!DOCTYPE" in chunk:
                raise FileRejected("unreadable", f"{name} declares a DTD (never in a workbook)")
            yield chunk


def _small_xml(book: zipfile.ZipFile, name: str) -> ElementTree.Element:
    data = b"".join(_chunks(book, name, MAX_OTHER_MEMBER))
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError:
        raise FileRejected("unreadable", f"{name} is not well-formed XML") from None


def _sheets(book: zipfile.ZipFile) -> list[tuple[str, str, str]]:
    """(name, state, member path) of each sheet, in workbook order."""
    try:
        workbook = _small_xml(book, "xl/workbook.xml")
        rels = _small_xml(book, "xl/_rels/workbook.xml.rels")
    except KeyError:
        raise FileRejected("unreadable", "not an XLSX workbook (no xl/workbook.xml)") from None
    targets = {r.get("Id"): r.get("Target") or "" for r in rels.iter(f"{_PKG}Relationship")}
    out = []
    for sheet in workbook.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_REL}id"), "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        out.append((sheet.get("name") or "", sheet.get("state") or "visible", path))
    return out


def choose_sheet(
    sheets: list[tuple[str, str, str]], declared: str | None, warnings: list[str]
) -> tuple[str, str]:
    """(name, member) of the sheet to read. Only visible sheets count: a hidden sheet is
    nobody's table. The declared one (blanks around its name ignored) must be one sheet; a
    workbook without it is read only when it has a single visible sheet."""
    visible = [(n, p) for n, state, p in sheets if state == "visible"]
    if not visible:
        raise FileRejected("unreadable", "the workbook has no visible sheet")
    if not declared:
        return visible[0]
    matching = [(n, p) for n, p in visible if n.strip(" \u3000") == declared]
    if len(matching) > 1:
        raise FileRejected(
            "unreadable", f"{len(matching)} sheets answer to {declared!r}: which one is the table?"
        )
    if matching:
        return matching[0]
    if len(visible) == 1:
        warnings.append(f"sheet {declared!r} not found; read the only sheet {visible[0][0]!r}")
        return visible[0]
    raise FileRejected(
        "unreadable", f"no visible sheet {declared!r} among the workbook's {len(sheets)} sheets"
    )


def _check_extent(rows: int, columns: int, what: str) -> None:
    if rows > MAX_ROWS or columns > MAX_COLUMNS or rows * columns > MAX_CELLS:
        raise _too_large(
            f"{what}: {rows:,} rows x {columns:,} columns (at most {MAX_CELLS:,} cells are read)"
        )


def _matches(block: bytes, pattern: str) -> bool:
    """Whether `pattern` occurs in `block`: one RE2 pass (pyarrow), where Python's `re` or `in`
    would make one pass per alternative."""
    return bool(pc.match_substring_regex(pa.scalar(block, pa.binary()), pattern).as_py())


def _may_hold_long_text(block: bytes) -> bool:
    """Whether a run of more than MAX_CELL_BYTES bytes without a tag may be in `block`: such a
    run covers one of the half-size windows aligned on the block, so each window is asked for
    a `<` (in XML found within a few bytes)."""
    half = MAX_CELL_BYTES // 2
    return any(
        block.find(b"<", start, start + half) < 0 for start in range(0, len(block) - half + 1, half)
    )


def _check_texts(block: bytes, what: str) -> None:
    if not _may_hold_long_text(block) or _LONG_TEXT.search(block) is None:
        return
    for _, text in _TEXT.findall(block):
        if len(text) > MAX_CELL_BYTES:
            raise _too_large(f"a cell of {what} holds {len(text) >> 10:,} KiB of text")


def _complete(chunks: Iterator[bytes], end: bytes, what: str) -> Iterator[bytes]:
    """Chunks cut after their last `end` tag, so no element is split; an element longer than a
    cell may be is refused rather than buffered."""
    tail = b""
    for chunk in chunks:
        tail += chunk
        cut = tail.rfind(end)
        if cut < 0:
            if len(tail) > MAX_CELL_BYTES * 16:
                raise _too_large(f"{what}: one element (a cell, a row) larger than 16 MiB")
            continue
        cut += len(end)
        yield tail[:cut]
        tail = tail[cut:]
    if tail:
        yield tail


def _scan_sheet(book: zipfile.ZipFile, member: str, scan: WorkbookScan) -> None:
    extent = _Extent()
    dimension_seen = False
    for block in _complete(_chunks(book, member, MAX_XML_MEMBER), b"</row>", "the sheet"):
        if not dimension_seen and (m := _DIMENSION.search(block)):
            dimension_seen = True
            last_col, last_row = (m.group(3), m.group(4)) if m.group(3) else m.group(1, 2)
            _check_extent(
                int(last_row or 1), column_number(last_col or b"A"), "the declared dimension"
            )
        bound = extent.beyond()
        # The usual block: cells within the bound and nothing rare, found in one pass.
        rare = bound is None or _matches(block, f"{bound}|{_RARE_IN_SHEET}")
        extent.add(block, within=bound is not None and not (rare and _matches(block, bound)))
        scan.rows = extent.rows
        _check_texts(block, "the sheet")
        if not rare:
            continue
        if b"<f" in block:
            _formulas(block, scan)
        if b't="d"' in block or b"t='d'" in block:
            scan.iso_dates = True
        if b"inlineStr" in block or b'"str"' in block or b"'str'" in block:
            _look_alike(block, scan, sheet=True)


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _after(letter: str) -> str:
    """A character class of the letters after `letter` (empty when it is Z)."""
    rest = _LETTERS[_LETTERS.index(letter) + 1 :]
    return f"[{rest}]" if rest else ""


@lru_cache(maxsize=64)
def _wider_than(letters: bytes) -> str | None:
    """An RE2 pattern for a cell reference whose column comes after `letters` (one or two
    letters; else None). Any `r="<letters><digits>"` matches, a superset of the cells'
    references: a hit elsewhere only sends the block down the exact path."""
    if len(letters) == 1:
        alternatives = ["[A-Z]{2,4}", _after(letters.decode())]
    elif len(letters) == 2:
        first, second = letters[:1].decode(), letters[1:].decode()
        alternatives = ["[A-Z]{3,4}"]
        if first != "Z":
            alternatives.append(_after(first) + "[A-Z]")
        if second != "Z":
            alternatives.append(first + _after(second))
    else:
        return None
    either = "|".join(a for a in alternatives if a)
    return f'r="(?:{either})\\d'


class _Extent:
    """The sheet's cells' extent, block by block, checked against the limits.

    Every cell reference goes through Python only where it must: once the widest column is
    known, a block is searched whole in C for a cell beyond that column or a row number with
    more digits than the largest so far (`beyond`). Without either, its cells lie within
    (10^digits - 1) rows x the known columns, and when that bound is within the limits the
    block passes; otherwise (and for the first block) its references are read one by one.
    `rows` is the last cell's row (exact on a sheet written in order, as every writer does;
    it only chooses how the cells are read, never whether a sheet passes).
    """

    def __init__(self) -> None:
        self.rows = 0
        self.letters = b""  # the widest column's

    @property
    def columns(self) -> int:
        return column_number(self.letters)

    def beyond(self) -> str | None:
        """An RE2 pattern for a reference beyond the bound (None: no bound within the limits
        yet; the next block's references are read one by one). Seven digits are beyond
        MAX_ROWS: such rows are always read exactly."""
        wider = _wider_than(self.letters)
        digits = len(str(self.rows))
        bound = 10**digits - 1
        if wider is None or bound > MAX_ROWS or bound * self.columns > MAX_CELLS:
            return None
        return f'{wider}|r="[A-Z]{{1,4}}\\d{{{digits + 1}}}'

    def add(self, block: bytes, within: bool) -> None:
        """`within`: the block is known to hold no reference beyond the bound."""
        if within:
            last = block.rfind(b"<c")
            ref = _CELL_REF.match(block, last) if last >= 0 else None
            if ref is not None:
                self.rows = max(self.rows, int(ref.group(2)))
            return
        refs = _CELL_REF.findall(block)
        if not refs:
            return
        # Only the distinct row numbers and column letters go through Python.
        self.rows = max(self.rows, max(map(int, {r for _, r in refs})))
        self.letters = max({self.letters, *(c for c, _ in refs)}, key=column_number)
        _check_extent(self.rows, self.columns, "the sheet's cells")


def _formulas(block: bytes, scan: WorkbookScan) -> None:
    """Formula cells whose cached value is absent or empty."""
    for attributes, body in _CELL.findall(block):
        if b"<f" not in body or _CACHED.search(body):
            continue
        ref = _REF.search(attributes)
        if ref is None:
            continue
        scan.formulas.setdefault(int(ref.group(2)), set()).add(column_number(ref.group(1)) - 1)


def _locate(block: bytes, at: int, where: dict[int, set[int]]) -> bool:
    """Adds the cell holding the text at `at` (its start tag is the last before it) to `where`;
    False when that tag has no reference."""
    start = block.rfind(b"<c", 0, at)
    ref = _REF.search(block, start, block.find(b">", start)) if start >= 0 else None
    if ref is None:
        return False
    where.setdefault(column_number(ref.group(1)) - 1, set()).add(int(ref.group(2)) - 1)
    return True


def _datetime_texts(block: bytes) -> Iterator[int]:
    """Where the texts spelled like a datetime start (their `<t>`/`<v>` tag)."""
    for clock in _CLOCK.finditer(block):
        tag = block.rfind(b"<", 0, clock.start())
        spelled = _DATETIME_SPELLED.match(block, tag) if tag >= 0 else None
        if spelled is not None and spelled.end() == clock.end():
            yield tag


def _look_alike(block: bytes, scan: WorkbookScan, sheet: bool = False) -> None:
    """Which spellings ("datetime", "bool") the texts of `block` have (rich text runs and
    character references are not looked into: they may have any); in the sheet, where the
    datetime ones are, as long as every one is found in a cell with its reference."""
    if _matches(block, _RICH_OR_BOOL):  # rare: one pass to rule both out
        if b"<r>" in block or b"<r " in block or b"&#" in block:
            scan.look_alike.update(("datetime", "bool"))
            scan.datetime_texts = None
            return
        if _BOOL_SPELLED.search(block):
            scan.look_alike.add("bool")
    if b":" not in block:
        return
    for at in _datetime_texts(block):
        scan.look_alike.add("datetime")
        if scan.datetime_texts is None:
            return
        if not sheet or not _locate(block, at, scan.datetime_texts):
            scan.datetime_texts = None
            return


def _scan_shared_strings(book: zipfile.ZipFile, scan: WorkbookScan) -> None:
    name = "xl/sharedStrings.xml"
    if name not in book.NameToInfo:
        return
    for block in _complete(_chunks(book, name, MAX_XML_MEMBER), b"</si>", "the shared strings"):
        _check_texts(block, "the shared strings")
        if _matches(block, _LOOKS_ALIKE):
            _look_alike(block, scan)


def scan_workbook(data: bytes, declared: str | None) -> WorkbookScan:
    """Check a workbook's bounds and choose its sheet; raises FileRejected."""
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise FileRejected(
            "unreadable", f"not a readable XLSX workbook ({type(exc).__name__})"
        ) from None
    with book:
        members = book.infolist()
        if len(members) > MAX_MEMBERS:
            raise _too_large(f"the workbook holds {len(members):,} parts")
        declared_size = sum(m.file_size for m in members)
        if declared_size > MAX_UNCOMPRESSED:
            raise _too_large(f"the workbook inflates to {declared_size >> 20:,} MiB")
        warnings: list[str] = []
        try:
            name, member = choose_sheet(_sheets(book), declared, warnings)
            scan = WorkbookScan(sheet=name, warnings=warnings)
            if member not in book.NameToInfo:
                raise FileRejected("unreadable", f"sheet {name!r} has no part in the workbook")
            _scan_sheet(book, member, scan)
            _scan_shared_strings(book, scan)
            for other in ("xl/styles.xml", "[Content_Types].xml"):
                if other in book.NameToInfo:
                    for _ in _chunks(book, other, MAX_OTHER_MEMBER):
                        pass
        except (FileRejected, MemoryError):
            raise
        except Exception as exc:  # BadZipFile, zlib.error, a bad CRC, an encrypted member...
            raise FileRejected(
                "unreadable", f"not a readable XLSX workbook ({type(exc).__name__})"
            ) from None
    return scan
