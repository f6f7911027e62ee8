"""`ingest` reads the next file while the previous one is audited and published."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from bureau_stats import pipeline
from bureau_stats.settings import load_settings
from flows.run import ingest


def _settings(tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    shutil.copytree(demo_landing / "ip_cases", tmp_path / "landing" / "ip_cases")
    monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(tmp_path / "var"))
    return load_settings(
        landing=str(tmp_path / "landing"),
        warehouse_url=f"sqlite:///{tmp_path / 'w.db'}",
        read_ahead="thread",  # the patched reader below runs in this process
    )


def test_the_next_file_is_read_while_one_is_published(
    tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, demo_landing, monkeypatch)
    extracted: list[str] = []
    second_read = threading.Event()
    overlapped: list[bool] = []
    extract, publish = pipeline.extract_step, pipeline.publish_step

    def extract_step(file: Any, *args: Any) -> Any:
        extracted.append(file.relative)
        if len(extracted) == 2:
            second_read.set()
        return extract(file, *args)

    def publish_step(engine: Any, batch: Any, *args: Any) -> Any:
        if batch.file.relative == extracted[0]:
            # Sequential code would read file 2 only after this returns: wait would time out.
            overlapped.append(second_read.wait(timeout=60))
        return publish(engine, batch, *args)

    monkeypatch.setattr(pipeline, "extract_step", extract_step)
    monkeypatch.setattr(pipeline, "publish_step", publish_step)
    summary = ingest(settings)
    assert overlapped == [True]
    # Published in delivery order all the same, and reported in that order.
    assert [o.status for o in summary.outcomes] == ["published"] * 4
    assert [o.file for o in summary.outcomes] == sorted(extracted)


def test_a_failing_publish_does_not_stop_the_files_after_it(
    tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, demo_landing, monkeypatch)
    publish = pipeline.publish_step

    def publish_step(engine: Any, batch: Any, *args: Any) -> Any:
        if batch.file.relative.endswith("20240401-20240630.csv"):
            raise ConnectionError("database went away")
        return publish(engine, batch, *args)

    monkeypatch.setattr(pipeline, "publish_step", publish_step)
    first = ingest(settings)
    assert [o.status for o in first.outcomes] == ["published", "failed", "published", "published"]
    monkeypatch.setattr(pipeline, "publish_step", publish)
    second = ingest(settings)  # the lease was released: the source is free again
    assert [o.status for o in second.outcomes if o.status != "skipped"] == ["published"]


def test_the_reader_process_gives_the_same_warehouse(
    tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files read in a separate process: same outcomes, rows and accounting as in-process."""
    results = {}
    for mode in ("process", "thread"):
        settings = _settings(tmp_path / mode, demo_landing, monkeypatch).model_copy(
            update={"read_ahead": mode}
        )
        summary = ingest(settings)
        results[mode] = [
            (o.file, o.status, o.rows_read, o.rows_accepted, o.rows_rejected, o.sha256)
            for o in summary.outcomes
        ]
        if mode == "process":
            assert summary.read_seconds > 0
    assert results["process"] == results["thread"]
    assert [r[1] for r in results["process"]] == ["published"] * 4


def test_a_lease_the_database_refuses_fails_that_source_only(
    tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full or database gone while leasing: that source's files stay pending."""
    settings = _settings(tmp_path, demo_landing, monkeypatch)
    shutil.copytree(demo_landing / "ip_pledge", tmp_path / "landing" / "ip_pledge")
    import warehouse.leases

    acquire = warehouse.leases.acquire_source_locks

    def acquire_source_locks(engine: Any, sources: list[str], *args: Any, **kw: Any) -> Any:
        if sources == ["ip_cases"]:
            raise OSError(28, "No space left on device")
        return acquire(engine, sources, *args, **kw)

    monkeypatch.setattr(warehouse.leases, "acquire_source_locks", acquire_source_locks)
    summary = ingest(settings)
    by_source = {(o.source, o.status) for o in summary.outcomes}
    assert by_source == {("ip_cases", "failed"), ("ip_pledge", "published")}
    assert summary.exit_code == 1
    monkeypatch.setattr(warehouse.leases, "acquire_source_locks", acquire)
    again = ingest(settings)
    assert {o.status for o in again.outcomes if o.source == "ip_cases"} == {"published"}


def test_fingerprints_keep_the_files_order_and_an_unreadable_file_fails_alone(
    tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from connectors.landing import discover

    shutil.copytree(demo_landing / "ip_stats", tmp_path / "landing" / "ip_stats")
    files, _ = discover(str(tmp_path / "landing"))
    assert len(files) > 2
    broken = files[1].relative
    real = pipeline.fingerprint
    threads: set[str] = set()

    def fingerprint(file: Any) -> Any:
        threads.add(threading.current_thread().name)
        if file.relative == broken:
            raise PermissionError(13, "Permission denied")
        return real(file)

    monkeypatch.setattr(pipeline, "fingerprint", fingerprint)
    hashed = pipeline.fingerprint_all(files)
    assert isinstance(hashed[1], PermissionError)
    others = [(f, h) for f, h in zip(files, hashed, strict=True) if f.relative != broken]
    assert [h.file for _, h in others] == [f for f, _ in others]  # type: ignore[union-attr]
    assert [h.sha256 for _, h in others] == [  # type: ignore[union-attr]
        hashlib.sha256(Path(f.path).read_bytes()).hexdigest() for f, _ in others
    ]
    assert [h.size for _, h in others] == [  # type: ignore[union-attr]
        Path(f.path).stat().st_size for f, _ in others
    ]
    assert all(name.startswith("fingerprint") for name in threads)


def test_a_file_that_cannot_be_hashed_fails_and_the_next_run_publishes_it(
    tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, demo_landing, monkeypatch)
    real = pipeline.fingerprint
    locked = sorted(p.name for p in (tmp_path / "landing" / "ip_cases").iterdir())[0]

    def fingerprint(file: Any) -> Any:
        if file.relative.endswith(locked):
            raise PermissionError(13, "Permission denied")
        return real(file)

    monkeypatch.setattr(pipeline, "fingerprint", fingerprint)
    first = ingest(settings)
    failed = [o for o in first.outcomes if o.status == "failed"]
    assert [o.file for o in failed] == [f"ip_cases/{locked}"]
    assert (failed[0].sha256, failed[0].delivery_order) == (None, None)
    assert failed[0].detail == "read error (PermissionError); the next run tries again"
    assert sorted(o.status for o in first.outcomes) == ["failed"] + ["published"] * 3
    assert first.exit_code == 1
    monkeypatch.setattr(pipeline, "fingerprint", real)
    second = ingest(settings)
    assert [(o.file, o.status) for o in second.outcomes if o.status != "skipped"] == [
        (f"ip_cases/{locked}", "published")
    ]
    assert second.exit_code == 0


def test_the_source_with_the_most_bytes_is_read_first_each_in_delivery_order(
    tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, demo_landing, monkeypatch)  # ip_cases: 4 small files
    shutil.copytree(demo_landing / "ip_pledge", tmp_path / "landing" / "ip_pledge")
    landing = tmp_path / "landing"
    sizes = {
        s: sum(p.stat().st_size for p in (landing / s).iterdir()) for s in ("ip_cases", "ip_pledge")
    }
    bigger, smaller = sorted(sizes, key=sizes.__getitem__, reverse=True)
    assert sizes[bigger] > sizes[smaller]
    read: list[str] = []
    extract = pipeline.extract_step

    def extract_step(file: Any, *args: Any) -> Any:
        read.append(file.relative)
        return extract(file, *args)

    monkeypatch.setattr(pipeline, "extract_step", extract_step)
    summary = ingest(settings)
    assert {o.status for o in summary.outcomes} == {"published"}
    sources = [name.split("/")[0] for name in read]
    assert sources == sorted(sources, key=lambda s: s != bigger)  # one source, then the other
    for source in sizes:  # within a source: delivery order
        mine = [name for name in read if name.startswith(source)]
        assert mine == sorted(mine)


@pytest.mark.parametrize("stage", ["extract_step", "run_audit"])
def test_a_module_that_fails_to_import_leaves_the_file_pending_not_quarantined(
    tmp_path: Path,
    demo_landing: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    stage: str,
) -> None:
    """A broken install or a half-imported module is the machine's fault: the next run retries."""
    settings = _settings(tmp_path, demo_landing, monkeypatch)
    real = getattr(pipeline, stage)
    first_file: list[str] = []

    def broken(batch_or_file: Any, *args: Any, **kwargs: Any) -> Any:
        relative = getattr(batch_or_file, "relative", None) or batch_or_file.file.relative
        if not first_file or first_file[0] == relative:
            first_file[:] = [relative]
            raise ImportError("cannot import name 'x' (circular import)", name="half_imported")
        return real(batch_or_file, *args, **kwargs)

    monkeypatch.setattr(pipeline, stage, broken)
    first = ingest(settings)
    failed = [o for o in first.outcomes if o.status == "failed"]
    assert [o.file for o in failed] == first_file
    prefix = "read" if stage == "extract_step" else "audit"
    assert failed[0].detail == f"{prefix} error (ImportError: half_imported)"
    assert sorted(o.status for o in first.outcomes) == ["failed"] + ["published"] * 3
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("will retry next run" in m and "half_imported" in m for m in logged)
    if stage == "run_audit":  # the import's own text, to find which module was half-imported
        assert f"{first_file[0]}: cannot import name 'x' (circular import)" in logged
    monkeypatch.setattr(pipeline, stage, real)
    second = ingest(settings)
    assert [(o.file, o.status) for o in second.outcomes if o.status != "skipped"] == [
        (first_file[0], "published")
    ]


def test_machine_errors_are_found_through_the_causes() -> None:
    try:
        try:
            raise ImportError("no module", name="python_calamine")
        except ImportError as cause:
            raise RuntimeError("reader crashed") from cause
    except RuntimeError as exc:
        wrapped = exc
    assert pipeline.machine_error(wrapped) == "ImportError: python_calamine"
    assert pipeline.machine_error(PermissionError(13, "denied")) == "PermissionError"
    assert pipeline.machine_error(ModuleNotFoundError("x")) == "ModuleNotFoundError: a module"
    assert pipeline.machine_error(ValueError("bad cell")) is None


def test_a_corrupt_file_whose_error_carries_an_oserror_context_is_still_quarantined(
    tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zipfile raises BadZipFile while handling an OSError on a file too short to seek in:
    that is the file, and final, not a disk to wait for."""
    import zipfile

    settings = _settings(tmp_path, demo_landing, monkeypatch)
    real = pipeline.extract_step
    corrupt = sorted(p.name for p in (tmp_path / "landing" / "ip_cases").iterdir())[-1]

    def extract_step(file: Any, *args: Any) -> Any:
        if file.relative.endswith(corrupt):
            try:
                raise OSError(22, "Invalid argument")
            except OSError:
                raise zipfile.BadZipFile("File is not a zip file")  # noqa: B904
        return real(file, *args)

    monkeypatch.setattr(pipeline, "extract_step", extract_step)
    summary = ingest(settings)
    outcome = next(o for o in summary.outcomes if o.file.endswith(corrupt))
    assert (outcome.status, outcome.reason) == ("quarantined", "unreadable")
    assert outcome.detail == "reader failed (BadZipFile)"


def test_dates_after_today_are_published_with_a_warning(
    tmp_path: Path,
    demo_landing: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rule 6 quarantines for no such reason: a file dated in the future is published, and
    the audit's warning reaches the outcome and the log."""
    sample = demo_landing / "ip_cases" / "知识产权案件_20241001-20241231.csv"
    future = tmp_path / "landing" / "ip_cases" / "知识产权案件_20991001-20991231.csv"
    future.parent.mkdir(parents=True)
    text = sample.read_bytes().decode("gb18030")
    text = text.replace("2024", "2099").replace("２０２４", "２０９９")  # full-width digits too
    future.write_bytes(text.encode("gb18030"))
    monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(tmp_path / "var"))
    settings = load_settings(
        landing=str(tmp_path / "landing"), warehouse_url=f"sqlite:///{tmp_path / 'w.db'}"
    )
    caplog.set_level("WARNING")
    summary = ingest(settings)
    records = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    [outcome] = summary.outcomes
    assert outcome.status == "published"
    assert outcome.rows_accepted > 0
    assert any("expect_column_values_to_be_between(received_on)" in w for w in outcome.warnings)
    assert any("not after today" in r for r in records)
