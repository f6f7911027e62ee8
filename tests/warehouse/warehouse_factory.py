"""Hand-built ExtractedBatch objects for warehouse tests (no connector involved).

Importable from a subprocess (the crash tests) as well as from the tests themselves.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from connectors.batch import REJECT_COLUMNS, ExtractedBatch, LandingFile
from connectors.sources import SOURCES

PERSON_ID = "11010519491231002X"  # a syntactically valid resident ID, never to be stored in clear


def landing_file(
    source: str, start: date, end: date, version: int = 1, name: str | None = None
) -> LandingFile:
    src = SOURCES[source]
    suffix = f"_v{version}" if version > 1 else ""
    name = name or f"{src.file_stem}_{start:%Y%m%d}-{end:%Y%m%d}{suffix}.{src.extension}"
    return LandingFile(
        source=source,
        path=f"/landing/{source}/{name}",
        relative=f"{source}/{name}",
        period_start=start,
        period_end=end,
        version=version,
        extension=src.extension,
    )


def _value(kind: str, values: tuple[str, ...], field: str, i: int, day: date, tag: str) -> Any:
    if kind in ("date", "epoch_ms_date", "month"):
        return day
    if kind == "enum":
        return values[i % len(values)]
    if kind == "bool":
        return i % 2 == 0
    if kind == "int":
        return i + 1
    if kind == "decimal":
        return Decimal("12345678901.2345") if i == 0 else Decimal(i) / 100
    return f"{tag}-{field}-{i}"


def accepted_frame(source: str, days: list[date], tag: str = "v1") -> pd.DataFrame:
    """One accepted row per day in `days`, every declared field filled."""
    src = SOURCES[source]
    data: dict[str, list[Any]] = {c.field: [] for c in src.columns}
    for i, day in enumerate(days):
        for c in src.columns:
            data[c.field].append(_value(c.type, c.values, c.field, i, day, tag))
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})
    for c in src.columns:
        if c.type in ("text", "enum"):
            frame[c.field] = frame[c.field].astype("str")
        elif c.type == "int":
            frame[c.field] = frame[c.field].astype("Int64")
        elif c.type == "bool":
            frame[c.field] = frame[c.field].astype("boolean")
    frame["partition_date"] = pd.Series(days, dtype=object)
    frame["line"] = pd.Series(range(2, len(days) + 2), dtype="int64")
    return frame


def rejects_frame(
    lines: list[int], reason: str = "bad_date", column: str = "核准日期"
) -> pd.DataFrame:
    raw = json.dumps(
        {"当事人证件号码": hashlib.sha256(PERSON_ID.encode()).hexdigest(), "值": "x"},
        ensure_ascii=False,
    )
    return pd.DataFrame(
        {
            "line": pd.Series(lines, dtype="int64"),
            "reason": pd.Series([reason] * len(lines), dtype=object),
            "column": pd.Series([column] * len(lines), dtype=object),
            "raw": pd.Series([raw] * len(lines), dtype=object),
        },
        columns=list(REJECT_COLUMNS),
    )


def days_between(start: date, end: date, step: int = 1) -> list[date]:
    return [start + timedelta(days=d) for d in range(0, (end - start).days + 1, step)]


def make_batch(
    source: str,
    start: date,
    end: date,
    *,
    version: int = 1,
    tag: str | None = None,
    days: list[date] | None = None,
    rejected: int = 0,
    duplicates: int = 0,
    name: str | None = None,
    verdict: str = "readable",
    reason: str | None = None,
) -> ExtractedBatch:
    """A batch whose sha256 depends only on its content (same arguments -> same content)."""
    tag = tag or f"v{version}"
    days = days if days is not None else days_between(start, end, 3)
    accepted = accepted_frame(source, days, tag) if verdict == "readable" else pd.DataFrame()
    rejects = rejects_frame(list(range(1000, 1000 + rejected)))
    sha = hashlib.sha256(
        json.dumps(
            [
                source,
                str(start),
                str(end),
                version,
                tag,
                [str(d) for d in days],
                rejected,
                duplicates,
                verdict,
            ]
        ).encode()
    ).hexdigest()
    n_accepted = len(accepted)
    return ExtractedBatch(
        file=landing_file(source, start, end, version, name),
        sha256=sha,
        accepted=accepted,
        rejects=rejects,
        rows_read=(n_accepted + rejected + duplicates) if verdict == "readable" else 0,
        rows_duplicate=duplicates,
        verdict=verdict,  # type: ignore[arg-type]
        reason=reason,
        detail=f"test {reason}" if reason else None,
    )
