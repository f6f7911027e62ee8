"""The malformed-export corpus and random bytes through the whole pipeline (ledger first,
extract, audit, publish): every delivery ends with a ledger verdict, never a crash, never a
file left pending, and the run says so with its exit code."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fault_helpers import assert_consistent, ingest_in_process, ledger
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.sources import SOURCES
from tests.connectors.bad_inputs import build_corpus
from warehouse.engine import open_warehouse
from warehouse.status import list_batches

FINAL = ("published", "superseded", "quarantined")


def test_every_corpus_file_gets_a_ledger_verdict(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    expected = build_corpus(landing)
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    summary = ingest_in_process(url, landing, tmp_path / "var")
    assert summary.exit_code == 1  # the corpus holds files to quarantine: the run says so
    assert not [o for o in summary.outcomes if o.status == "failed"]
    engine = open_warehouse(url)
    try:
        by_content = {b["sha256"]: b for b in list_batches(engine)}  # finished entries only
        assert "pending" not in ledger(engine).values()
        assert_consistent(engine, tuple(SOURCES))
    finally:
        engine.dispose()
    outcome = {o.file: o for o in summary.outcomes}
    assert set(outcome) == set(expected)
    for relative, reason in expected.items():
        entry = by_content.get(outcome[relative].sha256 or "")
        assert entry is not None, f"{relative}: no ledger verdict"
        if reason is not None:
            assert (entry["status"], entry["reason"]) == ("quarantined", reason), relative
    ignored = {i.file for i in summary.ignored}
    assert "registration/~$经营主体登记业务明细_20240101-20240131.csv" in ignored


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(sorted(SOURCES)),
    body=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=400).map(lambda t: t.encode("utf-8")),
    ),
)
def test_random_bytes_through_the_pipeline_get_a_verdict(source: str, body: bytes) -> None:
    src = SOURCES[source]
    end = {"month": "0131", "quarter": "0331", "half_year": "0630", "year": "1231"}[src.cadence]
    name = (
        f"{src.file_stem}_202401.{src.extension}"
        if src.monthly
        else f"{src.file_stem}_2024.{src.extension}"  # the offices' yearly workbook
        if src.cadence == "year"
        else f"{src.file_stem}_20240101-2024{end}.{src.extension}"  # the source's span
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "landing" / source).mkdir(parents=True)
        (root / "landing" / source / name).write_bytes(body)
        url = f"sqlite:///{root / 'warehouse.db'}"
        summary = ingest_in_process(url, root / "landing", root / "var")
        [o] = summary.outcomes
        assert o.status in FINAL, (o.status, o.detail)
        assert o.rows_read == o.rows_accepted + o.rows_rejected + o.rows_duplicate
        engine = open_warehouse(url)
        try:
            assert set(ledger(engine).values()) <= set(FINAL)
            assert_consistent(engine, (source,))
        finally:
            engine.dispose()
