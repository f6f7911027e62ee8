"""`bureau-stats run | status | rejects`: exit codes, one JSON document on stdout, tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from corpora import Corpus
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

import bureau_stats.cli.ingest  # noqa: F401  (registers the commands)
from bureau_stats.cli.app import app

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "status.schema.json").read_text())
FILES = (  # of the demo year (tests/corpora.py), which says what each holds
    "registration/经营主体登记业务明细_20240601-20240630.csv",  # rejected rows
    "cases/行政处罚案件_20241001-20241031.xlsx",  # duplicates
    "ip_stats/知识产权统计月报_202401.csv",
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'warehouse.db'}"
        return
    base = request.getfixturevalue("pg_url")
    schema = f"c_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture()
def landing(tmp_path: Path, demo_landing: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "landing"
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(demo_landing / rel, root / rel)
    (root / "registration" / "~$经营主体登记业务明细_20240301-20240331.csv").write_text("lock")
    (root / "notes.txt").write_text("not a delivery")
    monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(tmp_path / "var"))
    return root


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _planner_rows(url: str) -> dict[str, bool]:
    """Whether each source table of FILES, and one the run did not load, has been analyzed
    (pg_class.reltuples is -1 until a table's first ANALYZE or VACUUM)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            known = {
                name: conn.execute(
                    text("SELECT reltuples >= 0 FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                    {"t": name},
                ).scalar()
                for name in ("registration", "cases", "ip_stats", "food_license")
            }
    finally:
        engine.dispose()
    assert known.pop("food_license") is False  # not loaded by the run: never analyzed
    return known


def test_run_status_rejects(landing: Path, warehouse: str, demo_corpus: Corpus) -> None:
    planned = [demo_corpus.accounting[rel] for rel in FILES]
    reasons = demo_corpus.reject_reasons[FILES[0]]
    assert planned[0]["rows_rejected"] > 2 and planned[1]["rows_duplicate"] > 0
    code, out, err = invoke(
        "run", "--landing", str(landing), "--warehouse", warehouse, "--json", "--no-docs"
    )
    assert code == 0, err
    doc = json.loads(out)  # exactly one JSON document
    assert sorted(f["file"] for f in doc["files"]) == sorted(FILES)
    assert {f["status"] for f in doc["files"]} == {"published"}
    assert sorted(i["file"] for i in doc["ignored"]) == [
        "notes.txt",
        "registration/~$经营主体登记业务明细_20240301-20240331.csv",
    ]
    assert "published" in err  # logs go to stderr
    if warehouse.startswith("postgresql"):  # the loaded tables have planner statistics
        assert _planner_rows(warehouse) == {"registration": True, "cases": True, "ip_stats": True}

    code, out, _ = invoke("status", "--json", "--warehouse", warehouse)
    assert code == 0
    status = json.loads(out)
    jsonschema.validate(status, SCHEMA)
    by_file = {b["file"]: b for b in status["batches"]}
    assert (by_file[FILES[0]]["rows_read"], by_file[FILES[0]]["rows_rejected"]) == (
        planned[0]["rows_read"],
        planned[0]["rows_rejected"],
    )
    assert (by_file[FILES[1]]["rows_read"], by_file[FILES[1]]["rows_duplicate"]) == (
        planned[1]["rows_read"],
        planned[1]["rows_duplicate"],
    )

    code, out, _ = invoke("status", "--json", "--source", "cases", "--warehouse", warehouse)
    assert [b["file"] for b in json.loads(out)["batches"]] == [FILES[1]]

    code, out, _ = invoke("status", "--warehouse", warehouse)
    name = FILES[0].split("/")[1]
    assert code == 0 and name in out and "published" in out

    code, out, _ = invoke("rejects", name, "--json", "--limit", "2", "--warehouse", warehouse)
    assert code == 0
    rej = json.loads(out)
    assert rej["file"] == FILES[0] and rej["total"] == planned[0]["rows_rejected"]
    assert len(rej["rejects"]) == 2
    assert {"line", "reason", "column", "raw"} <= set(rej["rejects"][0])
    assert rej["rejects"][0]["reason"] in reasons

    code, out, _ = invoke("rejects", FILES[0], "--warehouse", warehouse)
    assert code == 0 and all(reason in out for reason in reasons)

    # Second run: same content, nothing new, still success.
    code, out, _ = invoke(
        "run", "--landing", str(landing), "--warehouse", warehouse, "--json", "--no-docs"
    )
    assert code == 0
    assert {f["status"] for f in json.loads(out)["files"]} == {"skipped"}
    code, out, _ = invoke("run", "--landing", str(landing), "--warehouse", warehouse, "--no-docs")
    # Files already loaded are counted, not listed one by one.
    assert code == 0 and "run over" not in out  # no table
    assert f"{len(FILES)} files: {len(FILES)} skipped" in out
    code, out, _ = invoke("status", "--json", "--warehouse", warehouse)
    assert json.loads(out)["batches"] == status["batches"]


def test_quarantined_file_exits_1(landing: Path, tmp_path: Path) -> None:
    bad = landing / "ip_stats" / "知识产权统计月报_202402.csv"
    bad.write_text("统计月份,地区\n2024年2月,江门市\n", encoding="utf-8")  # columns missing
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code, out, _ = invoke("run", "--landing", str(landing), "--warehouse", url, "--no-docs")
    assert code == 1
    assert "quarantined" in out and "missing_column" in out
    code, out, _ = invoke("status", "--json", "--warehouse", url)
    entry = next(b for b in json.loads(out)["batches"] if b["file"].endswith("202402.csv"))
    assert (entry["status"], entry["reason"]) == ("quarantined", "missing_column")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--warehouse", "mysql://x@y/z"), "warehouse URL"),
        (
            ("run", "--warehouse", "sqlite:///{tmp}/w.db", "--landing", "{tmp}/nowhere"),
            "landing area",
        ),
        (("status", "--warehouse", "not a url"), "warehouse URL"),
        (("status", "--source", "nosuch", "--warehouse", "sqlite:///{tmp}/w.db"), "unknown source"),
        (("rejects", "nothing.csv", "--warehouse", "sqlite:///{tmp}/w.db"), "no delivery named"),
        (
            ("status", "--warehouse", "postgresql+psycopg://postgres@127.0.0.1:1/x"),
            "cannot open warehouse",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: tuple[str, ...], message: str, landing: Path, tmp_path: Path
) -> None:
    argv = [a.format(tmp=tmp_path) for a in args]
    if argv[0] == "run" and "--landing" not in argv:
        argv += ["--landing", str(landing)]
    code, out, err = invoke(*argv)
    assert code == 2
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in err


def test_folders_that_cannot_exist_exit_2_with_one_line(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("BUREAU_STATS_VAR_DIR", str(blocker / "var"))
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code, out, err = invoke("run", "--landing", str(landing), "--warehouse", url, "--no-docs")
    assert (code, out) == (2, "")
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: BUREAU_STATS_VAR_DIR {blocker / 'var'} cannot be created: Not a directory"
    ]
    assert "Traceback" not in err
    assert not (tmp_path / "w.db").exists()  # refused before the warehouse was created
    code, out, err = invoke("status", "--warehouse", f"sqlite:///{blocker}/w.db")
    assert (code, out) == (2, "")
    assert "SQLite warehouse folder" in err and "Traceback" not in err


def test_missing_pii_key_exits_2(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BUREAU_STATS_PII_KEY")
    code, out, err = invoke(
        "run", "--landing", str(landing), "--warehouse", f"sqlite:///{tmp_path / 'w.db'}"
    )
    assert code == 2 and out == ""
    assert "BUREAU_STATS_PII_KEY" in err and "Traceback" not in err
    assert not (tmp_path / "w.db").exists()  # refused before touching anything


def test_real_entry_point_prints_one_json_document(landing: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    exe = Path(sys.executable).with_name("bureau-stats")
    env = {**os.environ, "BUREAU_STATS_VAR_DIR": str(tmp_path / "var")}
    run = subprocess.run(
        [str(exe), "run", "--landing", str(landing), "--warehouse", url, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(json.loads(run.stdout)["files"]) == 3
    status = subprocess.run(
        [str(exe), "status", "--json", "--warehouse", url],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert status.returncode == 0
    jsonschema.validate(json.loads(status.stdout), SCHEMA)
