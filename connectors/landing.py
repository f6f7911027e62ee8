"""The landing area: which files are deliveries, and what their names declare.

`<landing>/<source>/<中文文件名>_<YYYYMMDD>-<YYYYMMDD>[_v<N>].<ext>`, or
`<landing>/ip_stats/知识产权统计月报_<YYYYMM>[_v<N>].csv`. The landing root may be a local folder
or any fsspec URL.
"""

from __future__ import annotations

import calendar
import os
import re
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

import fsspec

from connectors.batch import LandingFile
from connectors.sources import SOURCES, Source

_PERIOD = re.compile(
    r"^(?P<stem>.+)_(?P<start>\d{8})-(?P<end>\d{8})(?:_v(?P<version>\d+))?\.(?P<ext>[A-Za-z0-9]+)$"
)
_MONTH = re.compile(
    r"^(?P<stem>.+)_(?P<month>\d{6})(?:_v(?P<version>\d+))?\.(?P<ext>[A-Za-z0-9]+)$"
)
_TEMPORARY = re.compile(r"^(?:~\$.*|\..*|.*\.tmp|.*\.part)$", re.IGNORECASE)


@dataclass(frozen=True)
class IgnoredFile:
    """A file in the landing area that is not a delivery, and why."""

    relative: str
    why: str


def _date(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_name(source: Source, name: str) -> tuple[date, date, int, str] | str:
    """(period start, period end, version, extension) from a file name, or why not."""
    if source.monthly:
        m = _MONTH.match(name)
        if not m or m["stem"] != source.file_stem:
            return f"name does not match {source.file_stem}_YYYYMM[_vN].{source.extension}"
        year, month = int(m["month"][:4]), int(m["month"][4:])
        if not 1 <= month <= 12:
            return f"month {m['month']} in the name does not exist"
        start = date(year, month, 1)
        end = date(year, month, calendar.monthrange(year, month)[1])
    else:
        m = _PERIOD.match(name)
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
    version = int(m["version"]) if m["version"] else 1
    return start, end, version, m["ext"].lower()


def landing_file(root: str, relative: str) -> LandingFile | IgnoredFile:
    """Classify one path relative to the landing root."""
    parts = relative.split("/")
    name = parts[-1]
    if _TEMPORARY.match(name) or any(p.startswith(".") for p in parts):
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


def discover(root: str) -> tuple[list[LandingFile], list[IgnoredFile]]:
    """Every delivery in the landing area (sorted by relative path) and what was ignored."""
    fs, base = fsspec.core.url_to_fs(root)
    base = base.rstrip("/")
    if not fs.exists(base):
        raise FileNotFoundError(f"landing area {root!r} does not exist")
    is_local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    root_real = os.path.realpath(base) if is_local else ""
    files: list[LandingFile] = []
    ignored: list[IgnoredFile] = []
    for path in sorted(fs.find(base, maxdepth=3)):
        relative = path[len(base) :].lstrip("/")
        if is_local and not _inside(root_real, path):
            ignored.append(IgnoredFile(relative, "link pointing outside the landing area"))
            continue
        found = landing_file(root, relative)
        (ignored if isinstance(found, IgnoredFile) else files).append(found)  # type: ignore[arg-type]
    return files, ignored


def open_file(file: LandingFile) -> IO[Any]:
    """Open a delivery for binary reading, wherever the landing area is."""
    return fsspec.open(file.path, "rb").open()  # type: ignore[no-any-return]
