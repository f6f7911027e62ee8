"""SQL is built with bound parameters only: a static check (ruff's S608, selected in
pyproject.toml, must pass on every package) and hostile names and values end to end."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, inspect, select

from tests.connectors.conftest import REG_HEADER, reg_row
from tests.faults.fault_helpers import REPO, cli, ingest_in_process, run_env
from warehouse.engine import open_warehouse
from warehouse.schema import batch, source_table

RUFF = Path(sys.executable).parent / "ruff"
PACKAGES = (
    "bureau_stats",
    "connectors",
    "expectations",
    "warehouse",
    "metrics",
    "report",
    "tasks",
    "flows",
    "demo_data",
    "bench",
)
HOSTILE = "x'; DROP TABLE batch;--"


def _ruff_s608(*paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(RUFF),
            "check",
            "--no-cache",
            "--select",
            "S608",
            "--output-format",
            "concise",
            *paths,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )


def test_no_sql_is_built_by_string_formatting() -> None:
    done = _ruff_s608(*PACKAGES)
    assert done.returncode == 0, done.stdout


def test_the_static_check_would_see_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def find(conn, name):\n"
        "    return conn.exec_driver_sql(f\"SELECT * FROM batch WHERE file = '{name}'\")\n"
    )
    done = _ruff_s608(str(bad))
    assert done.returncode == 1 and "S608" in done.stdout, done.stdout


def test_hostile_names_and_values_are_data(warehouse_url: str, tmp_path: Path) -> None:
    landing = tmp_path / f"land{HOSTILE}"
    folder = landing / "registration"
    folder.mkdir(parents=True)
    names = ["x'); DROP TABLE registration;--", '"; DELETE FROM batch; --', "a,b'; --"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(REG_HEADER.split(","))
    for i, name in enumerate(names):
        cells = reg_row(f"DJ{i}").split(",")
        cells[2] = name  # 主体名称, quoted by the csv writer where needed
        writer.writerow(cells)
    (folder / "经营主体登记业务明细_20240101-20240131.csv").write_text(buf.getvalue(), "utf-8")
    (folder / f"{HOSTILE}.csv").write_bytes(b"not a delivery")
    summary = ingest_in_process(warehouse_url, landing, tmp_path / "var")
    assert [o.status for o in summary.outcomes] == ["published"]
    assert any(HOSTILE in i.file for i in summary.ignored)

    env = run_env(tmp_path / "var", warehouse_url, landing)
    for args in (
        ["rejects", HOSTILE],
        ["status", "--source", HOSTILE],
        ["explain", HOSTILE, "--year", "2024"],
        ["metrics", "--year", "2024", "--as-known-at", f"2024-06-01{HOSTILE}"],
    ):
        done = cli(args, env)
        assert done.returncode == 2, (args, done.returncode, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, args

    engine = open_warehouse(warehouse_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"batch", "registration", "reject"} <= tables
        reg = source_table("registration")
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(batch)).scalar_one() == 1
            stored = set(conn.execute(select(reg.c.entity_name)).scalars())
        assert set(names) <= stored  # stored as delivered, quotes and all
    finally:
        engine.dispose()
