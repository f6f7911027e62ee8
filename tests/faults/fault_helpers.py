"""Shared by the fault and security tests: a small generated year, the real CLI in a
subprocess, and what a warehouse holds, read from outside.

Importable from tests/faults (as `fault_helpers`) and tests/security
(`tests.faults.fault_helpers`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
YEAR = 2024
# A CSV source and an XLSX source, each with a `_v2` correction during the year: 26 files.
SOURCES_USED = ("registration", "cases")
SCALE = 0.1
CRASH_EXIT = 86  # crash_entry.py exits with this code at its crash point
FINAL = ("published", "superseded", "quarantined")


def generate_year(root: Path, sources: tuple[str, ...] = SOURCES_USED) -> Path:
    """The demo year (same seed -> same bytes) for `sources`, at a small scale."""
    from demo_data import generate

    generate(YEAR, root, scale=SCALE, sources=list(sources))
    return root


def copy_landing(source: Path, target: Path, *, until: date | None = None) -> list[str]:
    """Copy deliveries (those whose period ends by `until`, if given); returns their paths."""
    from connectors.landing import discover

    files, _ = discover(str(source))
    copied = []
    for f in files:
        if until is not None and f.period_end > until:
            continue
        dest = target / f.relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f.path, dest)
        copied.append(f.relative)
    return copied


def run_env(var: Path, warehouse_url: str, landing: Path, **extra: str) -> dict[str, str]:
    """Environment of a `bureau-stats` subprocess: no Prefect server unless given.

    Prefect's ephemeral server dies at start-up (exit 3) when PREFECT_HOME's parent folder
    does not exist, so the folder is made here.
    """
    (var / "prefect").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BUREAU_STATS_"))}
    env.update(
        BUREAU_STATS_PII_KEY=os.environ.get("BUREAU_STATS_PII_KEY", "test-pii-key"),
        BUREAU_STATS_VAR_DIR=str(var),
        BUREAU_STATS_LANDING=str(landing),
        BUREAU_STATS_WAREHOUSE_URL=warehouse_url,
        PREFECT_HOME=str(var / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        GX_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    env.update(extra)
    return env


def cli(
    args: list[str], env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "bureau-stats"), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_killed_at(
    point: str, args: list[str], env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`bureau-stats ARGS` that dies at crash point `point` of the publish (crash_entry.py)."""
    return subprocess.run(
        [sys.executable, str(Path(__file__).with_name("crash_entry.py")), point, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def popen(args: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "bureau-stats"), *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def ingest_in_process(warehouse_url: str, landing: Path, var: Path) -> Any:
    """One `bureau-stats run --in-process` in this process (cheaper than a subprocess)."""
    from bureau_stats.settings import load_settings
    from flows.run import ingest

    settings = load_settings(landing=str(landing), warehouse_url=warehouse_url, var_dir=var)
    return ingest(settings, str(landing))


def figures(engine: Engine) -> dict[str, Any]:
    from metrics.engine import compute_metrics

    return compute_metrics(engine, YEAR)


def current_rows(
    engine: Engine, sources: tuple[str, ...] = SOURCES_USED
) -> dict[str, Counter[tuple[Any, ...]]]:
    """The current rows of each source as a multiset of their declared values (a duplicate
    shows up as a count of 2; batch ids and timestamps are left out)."""
    from connectors.sources import SOURCES
    from warehouse.schema import source_table

    out: dict[str, Counter[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for code in sources:
            t = source_table(code)
            cols = [t.c.partition_date, *(t.c[c.field] for c in SOURCES[code].columns)]
            rows = conn.execute(select(*cols).where(t.c.superseded_at.is_(None))).all()
            out[code] = Counter(tuple(r) for r in rows)
    return out


def ledger(engine: Engine) -> dict[str, str]:
    """file -> ledger status (pending included)."""
    from warehouse.schema import batch

    with engine.connect() as conn:
        return dict(conn.execute(select(batch.c.file, batch.c.status)).all())


def snapshot(engine: Engine, sources: tuple[str, ...] = SOURCES_USED) -> dict[str, Any]:
    """Everything a reader of the warehouse can see: every row of the source tables (current
    and superseded, with their timestamps), the reject store, and the finished ledger rows.
    Pending ledger rows are left out: registering a delivery before reading it is the point
    of "ledger first", and a pending row publishes nothing."""
    from warehouse.schema import batch, reject, source_table

    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for code in sources:
            t = source_table(code)
            out[code] = sorted(map(tuple, conn.execute(select(t)).all()), key=repr)
        out["reject"] = sorted(
            map(
                tuple,
                conn.execute(
                    select(reject.c.batch_id, reject.c.line, reject.c.reason, reject.c.raw)
                ).all(),
            ),
            key=repr,
        )
        out["batch"] = sorted(
            map(tuple, conn.execute(select(batch).where(batch.c.status != "pending")).all()),
            key=repr,
        )
    return out


def assert_consistent(engine: Engine, sources: tuple[str, ...] = SOURCES_USED) -> None:
    """Invariants that must hold whatever happened to a run: finished ledger rows close their
    accounting; rows in the source tables belong to published or superseded files; for each
    date, the current rows come from one file only."""
    from sqlalchemy import func

    from warehouse.schema import batch, source_table

    with engine.connect() as conn:
        rows = conn.execute(select(batch)).all()
        by_id = {r.id: r for r in rows}
        for r in rows:
            assert r.status in ("pending", *FINAL), r
            if r.status in FINAL:
                assert r.rows_read == r.rows_accepted + r.rows_rejected + r.rows_duplicate, r
        for code in sources:
            t = source_table(code)
            owners = conn.execute(
                select(t.c.batch_id, t.c.superseded_at.is_(None), func.count()).group_by(
                    t.c.batch_id, t.c.superseded_at.is_(None)
                )
            ).all()
            for batch_id, current, _n in owners:
                status = by_id[batch_id].status
                if current:
                    assert status in ("published",), (code, batch_id, status)
                else:
                    assert status in ("published", "superseded", "quarantined"), (code, batch_id)
            per_date = conn.execute(
                select(t.c.partition_date, func.count(func.distinct(t.c.batch_id)))
                .where(t.c.superseded_at.is_(None))
                .group_by(t.c.partition_date)
            ).all()
            assert all(n == 1 for _, n in per_date), (code, [d for d, n in per_date if n > 1])


def pg_schema_url(base: str) -> tuple[str, str]:
    """A fresh schema in the session's database: (url with search_path, schema)."""
    schema = f"f_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return f"{base}?options=-csearch_path%3D{schema}", schema


def drop_schema(base: str, schema: str) -> None:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh warehouse on each backend (a SQLite file; a PostgreSQL schema, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    base = request.getfixturevalue("pg_url")
    url, schema = pg_schema_url(base)
    try:
        yield url
    finally:
        drop_schema(base, schema)
