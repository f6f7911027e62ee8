"""A reader process that dies on a file quarantines that file, and the next file is read by a
new one; the time limit ends a read that takes too long (issue 25 item 2)."""

from __future__ import annotations

import os
import signal
import time
from decimal import Decimal
from pathlib import Path

import pytest

from bureau_stats import pipeline
from bureau_stats.read_ahead import ReadAhead
from bureau_stats.reader_limits import ReaderLimits, death_verdict
from connectors.batch import ExtractedBatch
from warehouse.engine import open_warehouse

HEADER = "业务流水号,统一社会信用代码,主体名称,主体类型,业务类型,办理渠道,申请日期,核准日期,登记机关,所属镇街"


def _plan(tmp_path: Path, files: dict[str, bytes]) -> list[tuple[object, object]]:
    landing = tmp_path / "landing" / "registration"
    landing.mkdir(parents=True)
    for name, data in files.items():
        (landing / name).write_bytes(data)
    found, _ = pipeline.discover_step(str(tmp_path / "landing"))
    engine = open_warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    try:
        deliveries = [pipeline.fingerprint(f) for f in found]
        return list(pipeline.register_step(engine, deliveries))  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _reader(order: list, limits: ReaderLimits | None, readers: int = 1) -> ReadAhead:
    return ReadAhead(
        order,  # type: ignore[arg-type]
        pii_key=b"k",
        threshold=Decimal("0.05"),
        mode="process",
        limits=limits,
        readers=readers,
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_reader_process_that_dies_quarantines_that_file_and_the_next_is_read(
    tmp_path: Path,
) -> None:
    order = _plan(
        tmp_path,
        {
            "经营主体登记业务明细_20240101-20240131.csv": (HEADER + "\n").encode(),
            "经营主体登记业务明细_20240201-20240229.csv": (HEADER + "\n").encode(),
        },
    )
    with _reader(order, ReaderLimits(memory_mb=8192)) as reader:
        reader._submit()
        executor = reader._executor
        assert executor is not None
        deadline = time.monotonic() + 60
        while not getattr(executor, "_processes", None) and time.monotonic() < deadline:
            time.sleep(0.05)
        [pid] = list(executor._processes)  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGABRT)  # as a Rust allocation failure does
        first = reader.take()[2]
        second = reader.take()[2]
    assert isinstance(first, ExtractedBatch)
    assert (first.verdict, first.reason) == ("quarantine", "too_large"), first.detail
    assert "reader process died (signal 6, SIGABRT)" in (first.detail or "")
    assert isinstance(second, ExtractedBatch)  # read by a new reader process
    assert second.reason == "empty", second.detail


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_readers_hand_files_over_in_order_and_charge_no_death_to_a_bystander(
    tmp_path: Path,
) -> None:
    """A reader killed while two files were read at once: which one killed it is unknown, so
    each is read again alone; here neither did (the kill came from outside), so none is
    quarantined, and the files still come in the plan's order."""
    months = ["20240101-20240131", "20240201-20240229", "20240301-20240331"]
    order = _plan(
        tmp_path,
        {f"经营主体登记业务明细_{m}.csv": (HEADER + "\n").encode() for m in months},
    )
    with _reader(order, ReaderLimits(memory_mb=8192), readers=2) as reader:
        reader._submit()
        reader._submit()
        executor = reader._executor
        assert executor is not None
        deadline = time.monotonic() + 60
        while len(getattr(executor, "_processes", None) or ()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = next(iter(executor._processes))  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGKILL)
        read = [reader.take() for _ in months]
    assert [d.file.relative for d, _, _ in read] == [  # type: ignore[attr-defined]
        d.file.relative  # type: ignore[attr-defined]
        for d, _ in order
    ]
    for _, _, batch in read:
        assert isinstance(batch, ExtractedBatch)
        assert batch.reason == "empty", batch.detail  # read, not quarantined as a death


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_read_beyond_the_time_limit_is_quarantined_too_large(tmp_path: Path) -> None:
    row = "R{:07d},91440703QTK2GPARDC,某某商行,企业,设立登记,网办,2024-01-02,2024-01-03,,\n"
    body = HEADER + "\n" + "".join(row.format(i) for i in range(300_000))
    order = _plan(tmp_path, {"经营主体登记业务明细_20240101-20240131.csv": body.encode()})
    with _reader(order, ReaderLimits(timeout_seconds=0.05)) as reader:
        result = reader.take()[2]
    assert isinstance(result, ExtractedBatch)
    assert result.reason == "too_large"
    assert "longer than 0.05 s" in (result.detail or "")


def test_deaths_map_to_reasons() -> None:
    limits = ReaderLimits(memory_mb=512, timeout_seconds=10)
    assert death_verdict(-signal.SIGKILL, limits)[0] == "too_large"
    assert "512 MB" in death_verdict(-signal.SIGABRT, limits)[1]
    assert death_verdict(-signal.SIGSEGV, limits) == (
        "unreadable",
        "reader process died (signal 11, SIGSEGV)",
    )
    assert death_verdict(3, None) == ("unreadable", "reader process died (exit code 3)")


@pytest.mark.timeout(300)
def test_a_reader_does_not_run_the_main_module_of_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`spawn` runs the parent's main module again in a child; a served flow run's is
    `prefect.engine`, which a reader has no use for (issue 22: 45-60 MiB a reader)."""
    import importlib
    import sys

    marks = tmp_path / "imports.txt"
    (tmp_path / "heavy_main.py").write_text(
        f"with open({str(marks)!r}, 'a') as fp:\n    fp.write(__name__ + '\\n')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    main = importlib.import_module("heavy_main")
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setitem(sys.modules, "heavy_main", main)
    order = _plan(
        tmp_path,
        {
            "经营主体登记业务明细_20240101-20240131.csv": (HEADER + "\n").encode(),
            "经营主体登记业务明细_20240201-20240229.csv": (HEADER + "\n").encode(),
        },
    )
    with _reader(order, None, readers=2) as reader:
        taken = [reader.take()[2] for _ in order]
        assert all(isinstance(read, ExtractedBatch) for read in taken)
        assert len(reader._workers) == 2  # both reader processes started
    assert sys.modules["__main__"] is main  # given back
    assert marks.read_text().split() == ["heavy_main"]  # imported here only, by no reader
