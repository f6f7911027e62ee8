"""The real connectors and audit over real exports, end to end into both backends: the demo
generator's year (always) and the customer's samples (where present)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from corpora import Corpus
from sqlalchemy import Engine, String, Text, create_engine, inspect, select, text

from bureau_stats.outcome import RunResult as RunSummary
from bureau_stats.settings import Settings, load_settings
from flows.run import ingest
from warehouse.engine import open_warehouse
from warehouse.leases import acquire_source_locks
from warehouse.schema import SOURCE_TABLES, reject
from warehouse.status import list_batches

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "status.schema.json").read_text())
REG = "registration/经营主体登记业务明细_20240101-20240131.csv"


@dataclass
class Loaded:
    engine: Engine
    url: str
    data_docs: Path
    first: RunSummary
    second: RunSummary
    after_first: dict[str, Any]
    after_second: dict[str, Any]


def snapshot(engine: Engine) -> dict[str, Any]:
    """What the warehouse holds, independent of when it was loaded (no timestamps, no ids)."""
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for name, t in SOURCE_TABLES.items():
            cols = [
                c for c in t.columns if c.name not in ("batch_id", "published_at", "superseded_at")
            ]
            rows = conn.execute(select(*cols).where(t.c.superseded_at.is_(None))).all()
            out[name] = sorted(tuple(map(repr, r)) for r in rows)
        out["reject"] = sorted(
            tuple(map(repr, r))
            for r in conn.execute(
                select(reject.c.line, reject.c.reason, reject.c.column, reject.c.raw)
            ).all()
        )
    out["ledger"] = [
        {k: v for k, v in b.items() if k != "first_seen_at"} for b in list_batches(engine)
    ]
    return out


@contextmanager
def backend_url(kind: str, request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'warehouse.db'}"
        return
    base = request.getfixturevalue("pg_url")
    schema = f"s_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, corpus: Corpus
) -> Iterator[Loaded]:
    """All of the corpus's landing area loaded twice (second run: same content)."""
    tmp = tmp_path_factory.mktemp(f"{corpus.name}_{request.param}")
    mp = pytest.MonkeyPatch()
    mp.setenv("BUREAU_STATS_PII_KEY", "test-pii-key")
    try:
        with backend_url(request.param, request, tmp) as url:
            settings = load_settings(
                warehouse_url=url, var_dir=tmp / "var", landing=str(corpus.landing)
            )
            engine = open_warehouse(url)
            first = ingest(settings, engine=engine)
            after_first = snapshot(engine)
            second = ingest(settings, engine=engine)
            after_second = snapshot(engine)
            yield Loaded(
                engine,
                url,
                settings.resolved_data_docs_dir(),
                first,
                second,
                after_first,
                after_second,
            )
            engine.dispose()
    finally:
        mp.undo()


def test_status_matches_accounting_for_every_file(loaded: Loaded, corpus: Corpus) -> None:
    expected = {
        name: {**want, "verdict": corpus.ledger_status(name)}
        for name, want in corpus.accounting.items()
    }
    doc = {"batches": list_batches(loaded.engine)}
    jsonschema.validate(doc, SCHEMA)
    got = {
        b["file"]: {
            "rows_read": b["rows_read"],
            "rows_accepted": b["rows_accepted"],
            "rows_rejected": b["rows_rejected"],
            "rows_duplicate": b["rows_duplicate"],
            "verdict": b["status"],
        }
        for b in doc["batches"]
    }
    assert got == expected
    assert loaded.first.exit_code == 0
    assert {o.file: o.status for o in loaded.first.outcomes} == {
        name: corpus.ledger_status(name) for name in corpus.accounting
    }


def test_second_run_publishes_nothing_and_content_is_identical(loaded: Loaded) -> None:
    assert len(loaded.second.outcomes) == len(loaded.first.outcomes)
    assert {o.status for o in loaded.second.outcomes} == {"skipped"}
    assert loaded.second.exit_code == 0
    assert loaded.after_second == loaded.after_first


def test_rejects_and_rows_account_for_every_batch(loaded: Loaded) -> None:
    with loaded.engine.connect() as conn:
        from warehouse.schema import batch

        for b in conn.execute(select(batch)).all():
            assert b.rows_read == b.rows_accepted + b.rows_rejected + b.rows_duplicate
            n_rej = conn.execute(select(reject.c.id).where(reject.c.batch_id == b.id)).all()
            assert len(n_rej) == b.rows_rejected
            t = SOURCE_TABLES[b.source]
            n_rows = conn.execute(select(t.c.line).where(t.c.batch_id == b.id)).all()
            assert len(n_rows) == b.rows_accepted


def _all_text(engine: Engine) -> Iterator[str]:
    """Every text value of every table in the warehouse."""
    insp = inspect(engine)
    with engine.connect() as conn:
        for table in insp.get_table_names():
            cols = [
                c["name"] for c in insp.get_columns(table) if isinstance(c["type"], (String, Text))
            ]
            if not cols:
                continue
            prep = engine.dialect.identifier_preparer
            sql = f"SELECT {', '.join(prep.quote(c) for c in cols)} FROM {prep.quote(table)}"  # noqa: S608
            for row in conn.exec_driver_sql(sql):
                yield from (v for v in row if isinstance(v, str))


def test_no_natural_person_id_in_clear_anywhere_written(loaded: Loaded, corpus: Corpus) -> None:
    ids = corpus.person_ids
    assert ids
    blob = "\n".join(_all_text(loaded.engine))
    assert len(blob) > 100_000
    upper = blob.upper()
    assert [i for i in ids if i.upper() in upper] == []
    if loaded.url.startswith("sqlite"):
        db = Path(loaded.url.removeprefix("sqlite:///"))
        for f in (db, db.with_name(db.name + "-wal")):
            raw = f.read_bytes() if f.exists() else b""
            assert [i for i in ids if i.encode() in raw] == []
    written = [p for p in loaded.data_docs.rglob("*") if p.is_file()]
    assert written  # the audit's validation results
    docs = "\n".join(p.read_text(errors="replace") for p in written)
    assert [i for i in ids if i in docs] == []


# --- real files, small landing areas ---------------------------------------------------------


@dataclass
class Runner:
    """A landing area and a fresh warehouse; `run()` is one pipeline run over it."""

    landing: Path
    settings: Settings
    engine: Engine

    def run(self, **kw: Any) -> RunSummary:
        return ingest(self.settings, engine=self.engine, **kw)


@pytest.fixture(params=BACKENDS)
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runner]:
    landing = tmp_path / "landing"
    landing.mkdir()
    with backend_url(request.param, request, tmp_path) as url:
        settings = load_settings(warehouse_url=url, var_dir=tmp_path / "var", landing=str(landing))
        engine = open_warehouse(url)
        yield Runner(landing, settings, engine)
        engine.dispose()


def _copy(demo: Corpus, landing: Path, relative: str, as_name: str | None = None) -> Path:
    target = landing / relative.split("/")[0] / (as_name or relative.split("/")[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo.landing / relative, target)
    return target


def _v2_without_last_rows(path: Path, drop: int) -> Path:
    lines = path.read_bytes().splitlines(keepends=True)
    v2 = path.with_name(path.name.replace(".csv", "_v2.csv"))
    v2.write_bytes(b"".join(lines[:-drop]))
    return v2


def _current_count(engine: Engine, source: str) -> int:
    t = SOURCE_TABLES[source]
    with engine.connect() as conn:
        return len(conn.execute(select(t.c.line).where(t.c.superseded_at.is_(None))).all())


def test_real_v2_delivered_later_wins(runner: Runner, demo_corpus: Corpus) -> None:
    landing, run = runner.landing, runner.run
    v1 = _copy(demo_corpus, landing, REG)
    assert run().exit_code == 0
    assert (
        _current_count(runner.engine, "registration")
        == (demo_corpus.accounting[REG]["rows_accepted"])
    )
    _v2_without_last_rows(v1, 10)
    summary = run()
    assert [(o.file.endswith("_v2.csv"), o.status) for o in summary.outcomes] == [
        (False, "skipped"),
        (True, "published"),
    ]
    v2 = summary.outcomes[1]
    assert v2.rows_accepted < demo_corpus.accounting[REG]["rows_accepted"]
    assert _current_count(runner.engine, "registration") == v2.rows_accepted  # v2's rows only
    assert [b["status"] for b in list_batches(runner.engine)] == ["superseded", "published"]


def test_real_v1_and_v2_in_one_run(runner: Runner, demo_corpus: Corpus) -> None:
    landing, run = runner.landing, runner.run
    _v2_without_last_rows(_copy(demo_corpus, landing, REG), 10)
    summary = run()
    assert summary.exit_code == 0
    assert sorted(o.status for o in summary.outcomes) == ["published", "superseded"]
    v2 = next(o for o in summary.outcomes if o.file.endswith("_v2.csv"))
    assert v2.rows_accepted < demo_corpus.accounting[REG]["rows_accepted"]
    assert _current_count(runner.engine, "registration") == v2.rows_accepted
    batches = list_batches(runner.engine)
    assert [(b["version"], b["status"]) for b in batches] == [(1, "superseded"), (2, "published")]


def _invention_above_total(path: Path, region: str) -> None:
    """One statistics row whose invention grants exceed all grants (a rule violation)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        cells = line.split(",")
        if cells[1] == region:
            cells[3] = str(int(cells[2]) + 80)
            lines[i] = ",".join(cells)
    path.write_text("".join(lines), encoding="utf-8")


def test_truncated_json_and_reject_share_are_quarantined(
    runner: Runner, demo_corpus: Corpus
) -> None:
    landing, run = runner.landing, runner.run
    seq = _copy(demo_corpus, landing, "special_equipment/特种设备使用登记_20240101-20240131.json")
    doc = json.loads(seq.read_text(encoding="utf-8"))
    doc["total"] = len(doc["records"]) + 5  # the API export was cut off
    seq.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    jan, feb = (f"ip_stats/知识产权统计月报_2024{m}.csv" for m in ("01", "02"))
    _invention_above_total(_copy(demo_corpus, landing, jan), "蓬江区")
    _copy(demo_corpus, landing, feb)
    (landing / "registration").mkdir()
    (landing / "registration" / "readme.txt").write_text("not a delivery")
    summary = run()
    assert summary.exit_code == 1
    by_file = {
        o.file.split("/")[0] + ("/02" if "202402" in o.file else ""): o for o in summary.outcomes
    }
    assert (by_file["special_equipment"].status, by_file["special_equipment"].reason) == (
        "quarantined",
        "truncated",
    )
    assert (by_file["ip_stats"].status, by_file["ip_stats"].reason) == (
        "quarantined",
        "reject_share",
    )
    planned = demo_corpus.accounting[jan]
    assert (by_file["ip_stats"].rows_read, by_file["ip_stats"].rows_rejected) == (
        planned["rows_read"],
        planned["rows_rejected"] + 1,
    )
    assert by_file["ip_stats/02"].status == "published"
    assert [i.file for i in summary.ignored] == ["registration/readme.txt"]
    assert _current_count(runner.engine, "special_equipment") == 0
    # February only
    assert _current_count(runner.engine, "ip_stats") == demo_corpus.accounting[feb]["rows_accepted"]
    with runner.engine.connect() as conn:
        kept = len(conn.execute(select(reject.c.id)).all())
    # The bad statistics row is kept, with February's own rejects.
    assert kept == planned["rows_rejected"] + 1 + demo_corpus.accounting[feb]["rows_rejected"]
    # Quarantined content is not retried by the next run.
    assert {o.status for o in run().outcomes} == {"skipped"}


def test_a_leased_source_is_left_pending_for_the_next_run(
    runner: Runner, demo_corpus: Corpus
) -> None:
    _copy(demo_corpus, runner.landing, REG)
    _copy(demo_corpus, runner.landing, "ip_stats/知识产权统计月报_202401.csv")
    with acquire_source_locks(runner.engine, ["registration"], "backfill@elsewhere:1", wait=False):
        summary = runner.run(lock_timeout=0)
    assert summary.exit_code == 1
    assert {o.source: o.status for o in summary.outcomes} == {
        "registration": "failed",
        "ip_stats": "published",
    }
    failed = next(o for o in summary.outcomes if o.status == "failed")
    assert "backfill@elsewhere:1" in (failed.detail or "")
    assert [b["source"] for b in list_batches(runner.engine)] == ["ip_stats"]
    again = runner.run()
    assert {o.source: o.status for o in again.outcomes} == {
        "registration": "published",
        "ip_stats": "skipped",
    }
    assert again.exit_code == 0
