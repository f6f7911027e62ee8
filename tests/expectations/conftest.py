"""Hand-made batches with the canonical columns of a source (no connector needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import pandas as pd
import pytest

from connectors.batch import REJECT_COLUMNS, ExtractedBatch, LandingFile
from connectors.sources import Column, Source, get_source

PERIOD = (date(2024, 1, 1), date(2024, 1, 31))


def _values(column: Column, n: int, period: tuple[date, date]) -> pd.Series:
    """Valid values for one column, derived from its declaration."""
    i = range(n)
    days = (period[1] - period[0]).days + 1
    if column.type in ("date", "epoch_ms_date"):
        return pd.Series([period[0] + timedelta(days=k % days) for k in i], dtype=object)
    if column.type == "month":
        return pd.Series([period[0]] * n, dtype=object)
    if column.type == "enum":
        return pd.Series([column.values[k % len(column.values)] for k in i], dtype="str")
    if column.type == "bool":
        return pd.Series([k % 2 == 0 for k in i], dtype="boolean")
    if column.type == "int":
        low = max(column.minimum or 0, 1)
        return pd.Series([low] * n, dtype="Int64")
    if column.type == "decimal":
        return pd.Series([Decimal("12.50")] * n, dtype=object)
    if column.pattern is not None:
        return pd.Series([f"JY{k:014d}" for k in i], dtype="str")
    if column.check in ("uscc", "uscc_alphabet"):
        return pd.Series([f"914407{k:012d}" for k in i], dtype="str")
    return pd.Series([f"{column.field}-{k:07d}" for k in i], dtype="str")


def make_frame(
    source: Source,
    n: int,
    period: tuple[date, date] = PERIOD,
    dates: Literal["object", "datetime64"] = "object",
) -> pd.DataFrame:
    frame = pd.DataFrame({c.field: _values(c, n, period) for c in source.columns})
    frame["partition_date"] = frame[source.partition_field]
    if source.partition_fallback:
        frame["partition_date"] = frame["partition_date"].fillna(frame[source.partition_fallback])
    frame["line"] = pd.Series(range(2, n + 2), dtype="int64")
    if dates == "datetime64":
        for c in source.columns:
            if c.type in ("date", "epoch_ms_date", "month"):
                frame[c.field] = pd.to_datetime(frame[c.field])
        frame["partition_date"] = pd.to_datetime(frame["partition_date"])
    return frame


def batch_of(
    code: str, frame: pd.DataFrame, period: tuple[date, date] = PERIOD, sha: str = "ab" * 32
) -> ExtractedBatch:
    file = LandingFile(
        source=code,
        path=f"/landing/{code}/x_{period[0]:%Y%m%d}-{period[1]:%Y%m%d}.csv",
        relative=f"{code}/x_{period[0]:%Y%m%d}-{period[1]:%Y%m%d}.csv",
        period_start=period[0],
        period_end=period[1],
        version=1,
        extension="csv",
    )
    return ExtractedBatch(
        file=file,
        sha256=sha,
        accepted=frame,
        rejects=pd.DataFrame(columns=list(REJECT_COLUMNS)),
        rows_read=len(frame),
        rows_duplicate=0,
    )


@pytest.fixture()
def make_batch() -> Callable[..., ExtractedBatch]:
    """`make_batch(code, n=10, dates="object", edit=fn)`: a valid batch, optionally edited."""

    def factory(
        code: str,
        n: int = 10,
        *,
        dates: Literal["object", "datetime64"] = "object",
        period: tuple[date, date] = PERIOD,
        edit: Callable[[pd.DataFrame], Any] | None = None,
    ) -> ExtractedBatch:
        frame = make_frame(get_source(code), n, period, dates)
        if edit is not None:
            edit(frame)
        return batch_of(code, frame, period)

    return factory


@pytest.fixture(autouse=True, params=["compat", "public"])
def gx_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every audit test runs twice: with GX's compatibility module (expectations.gx_compat) and
    on GX's public API only (BUREAU_STATS_GX_COMPAT=off). Modules about the module's own
    shortcuts override this fixture with the compat mode alone."""
    from expectations import gx_compat

    gx_compat.configure(request.param == "compat")
    yield str(request.param)
    gx_compat.configure(None)


@pytest.fixture()
def merges(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many chunk results each merge got (proves the chunked path ran, and how)."""
    seen: list[int] = []
    from expectations import audit

    real = audit.merge_results

    def spy(parts: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(len(parts))
        return real(parts, *args, **kwargs)

    monkeypatch.setattr(audit, "merge_results", spy)
    return seen
