"""Small inline exports for the connector rules: each test builds the bytes it needs."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from connectors.batch import ExtractedBatch, LandingFile
from connectors.extract import extract_bytes
from connectors.sources import SOURCES

KEY = b"unit-test-key"

REG_HEADER = "业务流水号,统一社会信用代码,主体名称,主体类型,业务类型,办理渠道,申请日期,核准日期,登记机关,所属镇街"
# A valid USCC and resident ID (check digits computed per GB 32100 / GB 11643).
USCC = "91440703MA4UJ4X93F"
RESIDENT_ID = "440703199001010017"


def reg_row(
    txn: str = "DJ1",
    uscc: str = USCC,
    kind: str = "设立登记",
    channel: str = "网办",
    applied: str = "2024-01-02",
    approved: str = "2024-01-05",
    name: str = "甲公司",
) -> str:
    return f"{txn},{uscc},{name},企业,{kind},{channel},{applied},{approved},蓬江局,白沙街道"


def landing(
    source: str,
    start: date = date(2024, 1, 1),
    end: date = date(2024, 1, 31),
    ext: str | None = None,
) -> LandingFile:
    src = SOURCES[source]
    return LandingFile(
        source=source,
        path=f"mem://{source}/x",
        relative=f"{source}/x.{ext or src.extension}",
        period_start=start,
        period_end=end,
        version=1,
        extension=ext or src.extension,
    )


@pytest.fixture()
def extract() -> Callable[..., ExtractedBatch]:
    def run(source: str, data: bytes, *, threshold: str = "0.05", **kw: object) -> ExtractedBatch:
        return extract_bytes(
            landing(source, **kw), io.BytesIO(data), pii_key=KEY, threshold=Decimal(threshold)
        )  # type: ignore[arg-type]

    return run


def csv_bytes(header: str, rows: list[str], encoding: str = "gb18030", bom: bool = False) -> bytes:
    text = "\n".join([header, *rows]) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)
