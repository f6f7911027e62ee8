"""The hostile corpus: every `cases_*.py` module's CASES, each dropped beside a valid year of
exports and run twice through the pipeline.

For each case: the delivery's verdict (status, reason); the valid year's figures unchanged
against a clean run; no resident ID of the generated data in clear in anything written
(warehouse, reject store, var/ files, logs); the run ends in time (pytest-timeout); and a
second run over the same landing area neither crashes nor retries the file.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # cases modules import `corpus` as the runner does
    sys.path.insert(0, str(HERE))

from corpus import HostileCase  # noqa: E402

YEAR = 2024
HOSTILE_YEAR = YEAR + 1  # a published hostile file must not move the valid year's figures
SOURCES_USED = ("registration", "cases", "special_equipment")
FINAL = ("published", "superseded", "quarantined")
RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def collect_cases() -> list[HostileCase]:
    """CASES of every `cases_*.py` beside this file (readers, identity, ...)."""
    cases: list[HostileCase] = []
    for path in sorted(HERE.glob("cases_*.py")):
        spec = importlib.util.spec_from_file_location(f"hostile_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cases.extend(module.CASES)
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "hostile case names must be unique"
    return cases


CASES = collect_cases()


def run_pipeline(landing: Path, warehouse: Path, var: Path, **overrides: Any) -> Any:
    """The one call of the pipeline (in process): a run over `landing` into `warehouse`."""
    from bureau_stats.settings import load_settings
    from flows.run import ingest

    settings = load_settings(
        landing=str(landing),
        warehouse_url=f"sqlite:///{warehouse}",
        var_dir=var,
        pii_key="test-pii-key",
        read_ahead=overrides.pop("read_ahead", "thread"),
        **overrides,
    )
    return ingest(settings, str(landing))


def figures(warehouse: Path, year: int = YEAR) -> dict[str, Any]:
    from metrics.engine import compute_metrics
    from warehouse.engine import open_warehouse

    engine = open_warehouse(f"sqlite:///{warehouse}")
    try:
        return compute_metrics(engine, year)
    finally:
        engine.dispose()


def identities_in(landing: Path) -> set[str]:
    """Resident IDs (valid check digit) written anywhere in the landing area's files."""
    import pandas as pd

    from connectors.identifiers import valid_resident_id

    found: set[str] = set()
    for path in landing.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            import python_calamine

            book = python_calamine.CalamineWorkbook.from_path(str(path))
            text = " ".join(
                str(cell)
                for name in book.sheet_names
                for row in book.get_sheet_by_name(name).to_python()
                for cell in row
            )
        else:
            text = data.decode("utf-8", errors="ignore") + data.decode("gb18030", errors="ignore")
        found.update(RESIDENT_ID.findall(text))
    candidates = pd.Series(sorted(found), dtype=object)
    return set(candidates[valid_resident_id(candidates.str.upper()).to_numpy()])


def written_text(warehouse: Path, var: Path, logs: str) -> str:
    """Everything the pipeline wrote, as one text: every table of the warehouse, every file
    under var/ (Data Docs, validation results, spool leftovers), and the logs."""
    parts = [logs]
    with sqlite3.connect(warehouse) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                parts.append(" ".join(map(str, row)))
    for path in var.rglob("*"):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="ignore"))
    return "\n".join(parts)


def assert_nothing_in_clear(identities: set[str], text: str) -> None:
    leaked = sorted(i for i in identities if i in text or i.lower() in text)
    assert not leaked, f"{len(leaked)} identity numbers in clear"


@pytest.fixture(scope="session")
def valid_year(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small valid year (January-March of three sources), run once: the landing area, its
    warehouse and figures, and the resident IDs it holds."""
    from connectors.landing import discover
    from demo_data import generate

    root = tmp_path_factory.mktemp("hostile-year")
    full, landing = root / "full", root / "landing"
    generate(YEAR, full, scale=0.05, sources=list(SOURCES_USED))
    files, _ = discover(str(full))
    for f in files:
        if f.period_end.month <= 3:
            (landing / f.relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f.path, landing / f.relative)
    warehouse = root / "warehouse.db"
    summary = run_pipeline(landing, warehouse, root / "var")
    assert all(o.status in FINAL for o in summary.outcomes)
    identities = identities_in(landing)
    assert identities, "the valid year must hold natural persons' IDs for the check to bite"
    return {
        "landing": landing,
        "warehouse": warehouse,
        "figures": figures(warehouse),
        "identities": identities,
    }


def outcome_of(summary: Any, relative: str) -> Any:
    found = [o for o in summary.outcomes if o.file == relative]
    return found[0] if found else None


def reject_reasons(warehouse: Path, relative: str) -> set[str]:
    with sqlite3.connect(warehouse) as conn:
        rows = conn.execute(
            "SELECT DISTINCT r.reason FROM reject r JOIN batch b ON b.id = r.batch_id "
            "WHERE b.file = ?",
            (relative,),
        ).fetchall()
    return {r[0] for r in rows}


def ledger_status(warehouse: Path) -> dict[str, str]:
    with sqlite3.connect(warehouse) as conn:
        return dict(conn.execute("SELECT file, status FROM batch").fetchall())


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_delivery(
    case: HostileCase,
    valid_year: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    landing, warehouse, var = tmp_path / "landing", tmp_path / "warehouse.db", tmp_path / "var"
    shutil.copytree(valid_year["landing"], landing, symlinks=True)
    shutil.copy2(valid_year["warehouse"], warehouse)
    written = case.write(landing, HOSTILE_YEAR)
    overrides = {"read_ahead": case.extra["read_ahead"]} if "read_ahead" in case.extra else {}

    summary = run_pipeline(landing, warehouse, var, **dict(overrides))

    assert not [o for o in summary.outcomes if o.status == "failed"], [
        (o.file, o.detail) for o in summary.outcomes if o.status == "failed"
    ]
    for relative in written:
        outcome = outcome_of(summary, relative)
        if case.status is None:
            assert outcome is None, (relative, outcome.status, outcome.reason)
            continue
        assert outcome is not None, f"{relative}: not processed"
        assert outcome.status == case.status, (outcome.status, outcome.reason, outcome.detail)
        assert outcome.rows_read == (
            outcome.rows_accepted + outcome.rows_rejected + outcome.rows_duplicate
        )
        if case.status == "quarantined" and case.reason is not None:
            assert outcome.reason == case.reason, (outcome.reason, outcome.detail)
        elif case.reason is not None:
            assert case.reason in reject_reasons(warehouse, relative)
        if "rows_accepted" in case.extra:
            assert outcome.rows_accepted == case.extra["rows_accepted"]
    assert "pending" not in ledger_status(warehouse).values()
    assert figures(warehouse) == valid_year["figures"]
    # `identities`: resident IDs a case wrote; `clear`: anything else it wrote that must never
    # be written in clear (a person's name, an ID's near miss).
    must_not_leak = [*case.extra.get("identities", []), *case.extra.get("clear", [])]
    identities = valid_year["identities"] | set(map(str, must_not_leak))
    assert_nothing_in_clear(identities, written_text(warehouse, var, caplog.text))

    again = run_pipeline(landing, warehouse, var, **dict(overrides))
    assert {o.status for o in again.outcomes} <= {"skipped"}, [
        (o.file, o.status, o.detail) for o in again.outcomes if o.status != "skipped"
    ]
    assert figures(warehouse) == valid_year["figures"]
    assert_nothing_in_clear(identities, written_text(warehouse, var, caplog.text))


def test_the_corpus_covers_each_reader_failure_of_issue_25() -> None:
    names = {c.name for c in CASES}
    assert {
        "xlsx_formula_without_value",
        "csv_stray_quotes",
        "csv_rows_above_header",
        "json_duplicate_keys",
        "csv_quote_open_at_end",
        "xlsx_hidden_sheet_first",
        "xlsx_two_sheets_answer_to_the_name",
        "csv_cr_only_line_ends",
        "xlsx_cell_at_xfd1048576",
        "xlsx_zip_bomb_shared_string",
    } <= names


# --- the byte fuzzer -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def fuzz_bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Valid deliveries to mutate (CSV, JSON, XLSX of the hostile year) and an empty,
    migrated warehouse to copy for each example."""
    import cases_readers as readers

    root = tmp_path_factory.mktemp("fuzz")
    template = readers.template(HOSTILE_YEAR)
    bases = {}
    for source, ext in (("registration", "csv"), ("special_equipment", "json")):
        relative = readers._name(source, HOSTILE_YEAR, ext)
        bases[ext] = (relative, (template / relative).read_bytes())
    workbook = readers._workbook([(readers.SHEET, readers.case_rows(HOSTILE_YEAR), "visible")])
    bases["xlsx"] = (readers._name("cases", HOSTILE_YEAR, "xlsx"), workbook)
    (root / "landing").mkdir()
    run_pipeline(root / "landing", root / "empty.db", root / "var")
    return {"bases": bases, "warehouse": root / "empty.db", "identities": {readers.PERSON_ID}}


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Each edit (kind, at, byte): 0 replace, 1 insert, 2 delete one byte, 3 cut the rest."""
    out = bytearray(data)
    for kind, at, value in edits:
        at = at % (len(out) + 1)
        if kind == 0 and at < len(out):
            out[at] = value
        elif kind == 1:
            out[at:at] = bytes([value])
        elif kind == 2:
            del out[at : at + 1]
        elif kind == 3 and at > 0:
            del out[at:]
    return bytes(out)


def _mutate_sheet(workbook: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """The workbook with its sheet's XML mutated, zipped again (reaches the XML parsers)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                part = _mutate(part, edits)
            dst.writestr(info.filename, part, zipfile.ZIP_DEFLATED)
    return out.getvalue()


_EDITS = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.integers(0, 255)),
    min_size=1,
    max_size=6,
)


class _Capture(logging.Handler):
    """Every log line of a run (DEBUG up), whichever logger wrote it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.mark.slow
@pytest.mark.timeout(300)
@seed(25)
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kind=st.sampled_from(["csv", "json", "xlsx", "xlsx-xml"]), edits=_EDITS)
def test_mutated_deliveries_end_with_a_verdict(
    fuzz_bases: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    kind: str,
    edits: list[tuple[int, int, int]],
) -> None:
    """Bytes of a CSV, JSON or XLSX delivery mutated (XLSX: the zip, or its sheet's XML): the
    run ends, the delivery gets a ledger verdict (none left pending), its accounting closes,
    and no resident ID is written in clear."""
    root = tmp_path_factory.mktemp("fuzz-example")
    relative, data = fuzz_bases["bases"][kind.split("-")[0]]
    body = _mutate_sheet(data, edits) if kind == "xlsx-xml" else _mutate(data, edits)
    landing, warehouse, var = root / "landing", root / "warehouse.db", root / "var"
    (landing / relative).parent.mkdir(parents=True)
    (landing / relative).write_bytes(body)
    shutil.copy2(fuzz_bases["warehouse"], warehouse)
    handler, logger = _Capture(), logging.getLogger()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        summary = run_pipeline(landing, warehouse, var)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    [outcome] = summary.outcomes
    assert outcome.status in FINAL, (outcome.status, outcome.detail)
    assert outcome.rows_read == (
        outcome.rows_accepted + outcome.rows_rejected + outcome.rows_duplicate
    )
    assert set(ledger_status(warehouse).values()) <= set(FINAL)
    text = written_text(warehouse, var, "\n".join(handler.lines))
    assert_nothing_in_clear(fuzz_bases["identities"], text)
