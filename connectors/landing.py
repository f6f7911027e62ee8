"""The landing area: which files are deliveries, and what their names declare.

`<landing>/<source>/<中文文件名>_<YYYYMMDD>-<YYYYMMDD>[_v<N>].<ext>`, or
`<landing>/ip_stats/知识产权统计月报_<YYYYMM>[_v<N>].csv`, or a yearly workbook
`<landing>/manual/手工填报指标_<YYYY>[_v<N>].xlsx`. The landing root may be a local folder
or any fsspec URL.
"""

from __future__ import annotations

import calendar
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

import fsspec

from connectors.batch import LandingFile
from connectors.printable import printable
from connectors.sources import PERIOD_MONTHS, SOURCES, Source

# Matched in full (`re.fullmatch`: `$` would take a name ending in a newline). The version is
# 1-999999 (a ledger integer; `_v99999999999999999999` is no version, not an overflow).
_VERSION = r"(?:_v(?P<version>[1-9]\d{0,5}))?"
_PERIOD = re.compile(
    r"(?P<stem>.+)_(?P<start>\d{8})-(?P<end>\d{8})" + _VERSION + r"\.(?P<ext>[A-Za-z0-9]+)"
)
_MONTH = re.compile(r"(?P<stem>.+)_(?P<month>\d{6})" + _VERSION + r"\.(?P<ext>[A-Za-z0-9]+)")
_YEAR = re.compile(r"(?P<stem>.+)_(?P<year>\d{4})" + _VERSION + r"\.(?P<ext>[A-Za-z0-9]+)")
_TEMPORARY = re.compile(r"(?:~\$.*|\..*|.*\.tmp|.*\.part)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class IgnoredFile:
    """A file in the landing area that is not a delivery, and why. `relative` is printable
    (control characters as visible escapes): it is only ever shown, never opened."""

    relative: str
    why: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "relative", printable(self.relative))


def _date(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_name(source: Source, name: str) -> tuple[date, date, int, str] | str:
    """(period start, period end, version, extension) from a file name, or why not."""
    if source.cadence == "year":
        m = _YEAR.fullmatch(name)
        if not m or m["stem"] != source.file_stem:
            return f"name does not match {source.file_stem}_YYYY[_vN].{source.extension}"
        start, end = date(int(m["year"]), 1, 1), date(int(m["year"]), 12, 31)
    elif source.monthly:
        m = _MONTH.fullmatch(name)
        if not m or m["stem"] != source.file_stem:
            return f"name does not match {source.file_stem}_YYYYMM[_vN].{source.extension}"
        year, month = int(m["month"][:4]), int(m["month"][4:])
        if not 1 <= month <= 12:
            return f"month {m['month']} in the name does not exist"
        start = date(year, month, 1)
        end = date(year, month, calendar.monthrange(year, month)[1])
    else:
        m = _PERIOD.fullmatch(name)
        if not m or m["stem"] != source.file_stem:
            return (
                f"name does not match {source.file_stem}_YYYYMMDD-YYYYMMDD[_vN].{source.extension}"
            )
        parsed_start, parsed_end = _date(m["start"]), _date(m["end"])
        if parsed_start is None or parsed_end is None:
            return "a date in the name does not exist"
        if parsed_end < parsed_start:
            return "the period in the name ends before it starts"
        start, end = parsed_start, parsed_end
        if not _fits_shape(source, start, end):
            return f"the period in the name is not one calendar {source.cadence.replace('_', '-')}"
    version = int(m["version"]) if m["version"] else 1
    return start, end, version, m["ext"].lower()


def _fits_shape(source: Source, start: date, end: date) -> bool:
    """A whole calendar month, quarter or half-year, as the source delivers (a file declaring
    1900-2099 would otherwise supersede every date it holds no row for)."""
    months = PERIOD_MONTHS[source.cadence]
    if start.day != 1 or (start.month - 1) % months:
        return False
    last_month = start.month + months - 1
    return end == date(start.year, last_month, calendar.monthrange(start.year, last_month)[1])


def landing_file(root: str, relative: str) -> LandingFile | IgnoredFile:
    """Classify one path relative to the landing root."""
    parts = relative.split("/")
    name = parts[-1]
    if _TEMPORARY.fullmatch(name) or any(p.startswith(".") for p in parts):
        return IgnoredFile(relative, "hidden or temporary file")
    if len(parts) != 2 or parts[0] not in SOURCES:
        return IgnoredFile(relative, "not in a source folder")
    source = SOURCES[parts[0]]
    parsed = parse_name(source, name)
    if isinstance(parsed, str):
        return IgnoredFile(relative, parsed)
    start, end, version, ext = parsed
    return LandingFile(
        source=source.code,
        path=join(root, relative),
        relative=relative,
        period_start=start,
        period_end=end,
        version=version,
        extension=ext,
    )


def join(root: str, relative: str) -> str:
    return root.rstrip("/") + "/" + relative


def _inside(root_real: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real + os.sep)


class LandingError(FileNotFoundError):
    """The landing area cannot be used as configured (a setting to fix: exit 2, one line)."""


def _landing_fs(root: str) -> tuple[Any, str]:
    """The file system and base path of the landing area, or LandingError saying why not."""
    try:
        fs, base = fsspec.core.url_to_fs(root)
    except (ValueError, ImportError) as exc:  # unknown protocol, or its package not installed
        protocol = root.split("://", 1)[0] if "://" in root else root
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LandingError(
            f"landing area {printable(root)}: protocol {printable(protocol)!r} is not "
            f"available ({printable(reason)})"
        ) from None
    base = base.rstrip("/")
    try:
        exists = fs.exists(base)
    except Exception as exc:  # a remote area: unreachable, refused, ...
        raise LandingError(
            f"landing area {printable(root)} cannot be reached: {type(exc).__name__}"
        ) from None
    if not exists:
        raise LandingError(f"landing area {printable(root)!r} does not exist")
    if not fs.isdir(base):
        raise LandingError(f"landing area {printable(root)} is not a folder")
    return fs, base


def check_landing(root: str) -> None:
    """Raise LandingError unless the landing area can be listed."""
    _landing_fs(root)


def discover(root: str) -> tuple[list[LandingFile], list[IgnoredFile]]:
    """Every delivery in the landing area (sorted by relative path) and what was ignored."""
    fs, base = _landing_fs(root)
    is_local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    root_real = os.path.realpath(base) if is_local else ""
    files: list[LandingFile] = []
    ignored: list[IgnoredFile] = []
    for path, info in sorted(fs.find(base, maxdepth=3, detail=True).items()):
        relative = path[len(base) :].lstrip("/")
        if is_local and not _inside(root_real, path):
            ignored.append(IgnoredFile(relative, "link pointing outside the landing area"))
            continue
        if not (_is_regular(path) if is_local else info.get("type") == "file"):
            ignored.append(IgnoredFile(relative, "not a regular file"))
            continue
        found = landing_file(root, relative)
        (ignored if isinstance(found, IgnoredFile) else files).append(found)  # type: ignore[arg-type]
    return files, ignored


def _is_regular(path: str) -> bool:
    """A regular file (after links): a FIFO or device named like a delivery is never opened."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def open_file(file: LandingFile) -> IO[Any]:
    """Open a delivery for binary reading, wherever the landing area is.

    A local path is opened without blocking and refused unless it is a regular file (a FIFO
    put there since discovery would hang the run)."""
    fs, path = fsspec.core.url_to_fs(file.path)
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if "file" in protocols:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise IsADirectoryError(f"{printable(file.relative)} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    return fsspec.open(file.path, "rb").open()  # type: ignore[no-any-return]
