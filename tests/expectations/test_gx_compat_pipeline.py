"""One generated year run twice, with GX's compatibility module and on GX's public API only:
the same ledger, accounting, figures and stored validation results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from expectations import audit, gx_compat
from tests.faults.fault_helpers import figures, generate_year, ingest_in_process

# Small enough that the generated files take the chunked path with the module on (a spooled
# file is cut at its record batches, so here mostly one chunk each: still merged, uniqueness
# recomputed over the file; test_gx_compat compares merges of many chunks).
CHUNK = 150


@pytest.fixture()
def gx_mode() -> Iterator[str]:
    """Both modes run inside the one test."""
    yield "both"
    gx_compat.configure(None)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_year(tmp_path_factory.mktemp("gx_compat_year") / "landing")


def _results(data_docs: Path) -> dict[str, Any]:
    """Stored results by suite, run name and file, without run times and random ids."""
    out: dict[str, Any] = {}
    for path in sorted((data_docs / audit.RESULTS_SUBDIR).rglob("*.json")):
        suite, run_name, _run_time, file = path.relative_to(data_docs / "results").parts
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("id", None)
        for key in ("run_id", "validation_time", "validation_id"):
            data["meta"].pop(key)
        data["meta"]["batch_markers"].pop("ge_load_time")
        for item in data["results"]:
            item["expectation_config"].pop("id")
        out[f"{suite}/{run_name}/{file}"] = data
    return out


def _ledger(url: str) -> dict[str, tuple[Any, ...]]:
    from warehouse.schema import batch

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    batch.c.file,
                    batch.c.status,
                    batch.c.reason,
                    batch.c.rows_read,
                    batch.c.rows_accepted,
                    batch.c.rows_rejected,
                    batch.c.rows_duplicate,
                )
            ).all()
        return {r[0]: tuple(r[1:]) for r in rows}
    finally:
        engine.dispose()


def _run(landing: Path, var: Path, compat: bool) -> dict[str, Any]:
    gx_compat.configure(compat)
    url = f"sqlite:///{var / 'warehouse.db'}"
    summary = ingest_in_process(url, landing, var)
    engine = create_engine(url)
    try:
        year = figures(engine)
    finally:
        engine.dispose()
    return {
        "outcomes": sorted((o.file, o.status) for o in summary.outcomes),
        "ledger": _ledger(url),
        "figures": year,
        "results": _results(var / "data_docs"),
    }


@pytest.mark.slow
def test_year_gives_the_same_outcomes_with_and_without_the_module(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merges: list[int]
) -> None:
    real_chunk_rows = gx_compat.chunk_rows
    monkeypatch.setattr(gx_compat, "chunk_rows", lambda rows: real_chunk_rows(min(rows, CHUNK)))

    compat = _run(landing, tmp_path / "compat", compat=True)
    assert len(merges) >= 10  # files took the chunked path and its merge
    chunked_files = len(merges)
    public = _run(landing, tmp_path / "public", compat=False)
    assert len(merges) == chunked_files  # none on the public API

    assert compat["outcomes"] == public["outcomes"]
    assert compat["ledger"] == public["ledger"]
    assert compat["figures"] == public["figures"]
    assert compat["results"].keys() == public["results"].keys()
    assert compat["results"] == public["results"]
    statuses = {status for status, *_ in compat["ledger"].values()}
    assert "published" in statuses and len(compat["results"]) >= 20
