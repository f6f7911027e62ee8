"""A full disk under the Data Docs, the reject store or the SQLite warehouse: the run fails
loudly (exit code, message), nothing is half-written, no good file is wrongly quarantined
(that would make the next night skip it), and once there is space again the next run gives the
figures of a clean run.

Where the tests may mount a tmpfs (root, as in CI) the disk is really full (ENOSPC). Elsewhere
the stand-ins are: Data Docs under a regular file (ENOTDIR), a trigger raising PostgreSQL's
own `disk_full` error on the reject table, and RLIMIT_FSIZE on the SQLite run.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import pytest
from disk import fill, free, mount_tmpfs, tmpfs, umount
from fault_helpers import (
    BIN,
    FINAL,
    REPO,
    assert_consistent,
    cli,
    copy_landing,
    current_rows,
    drop_schema,
    figures,
    ingest_in_process,
    ledger,
    pg_schema_url,
    run_env,
    snapshot,
)
from sqlalchemy import create_engine, text

from warehouse.engine import open_warehouse

pytestmark = pytest.mark.slow


def _no_wrong_quarantine(engine, reference) -> None:
    """No file is quarantined that a clean run publishes: the others are still pending
    (resumable) or published (superseded later, once the newer files are in)."""
    for file, status in ledger(engine).items():
        allowed = {"pending", reference.statuses[file]}
        if reference.statuses[file] == "superseded":
            allowed.add("published")
        assert status in allowed, (file, status)


def _then_space_again(engine, env, reference) -> None:
    done = cli(["run", "--in-process", "--no-docs"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_consistent(engine)
    assert ledger(engine) == reference.statuses
    assert current_rows(engine) == reference.rows
    assert figures(engine) == reference.figures


def test_data_docs_on_a_full_disk(year_landing: Path, reference, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    copy_landing(year_landing, landing)
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    mount = tmp_path / "docs_volume"
    with tmpfs(mount, "1m") as mounted:
        if mounted:
            docs = mount / "data_docs"
            fill(mount)
        else:  # stand-in: a folder that cannot exist (its parent is a regular file)
            mount.rmdir()
            mount.write_text("not a folder")
            docs = mount / "data_docs"
        env = run_env(tmp_path / "var", url, landing, BUREAU_STATS_DATA_DOCS_DIR=str(docs))
        done = cli(["run", "--in-process"], env)
        assert done.returncode != 0, "a run that cannot store its validation results must fail"
        assert "audit" in done.stderr or "Data Docs" in done.stderr, done.stderr[-3000:]
        engine = open_warehouse(url)
        try:
            assert_consistent(engine)
            _no_wrong_quarantine(engine, reference)
            if mounted:
                free(mount)
            else:
                mount.unlink()
            _then_space_again(engine, env, reference)
        finally:
            engine.dispose()


@pytest.mark.postgres
def test_reject_store_on_a_full_tablespace(
    pg_url: str, year_landing: Path, reference, tmp_path: Path
) -> None:
    url, schema = pg_schema_url(pg_url)
    landing = tmp_path / "landing"
    copy_landing(year_landing, landing)
    engine = open_warehouse(url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    # Outside pytest's tmp folders, which the postgres user may not enter.
    space = Path(tempfile.mkdtemp(prefix="bureau-stats-tablespace-"))
    tablespace = f"ts_{schema}"
    mounted = mount_tmpfs(space, "1m", mode="0700")
    try:
        with admin.connect() as conn:
            if mounted:
                subprocess.run(["chown", "postgres:postgres", str(space)], check=True)
                conn.execute(text(f"CREATE TABLESPACE {tablespace} LOCATION '{space}'"))
                conn.execute(text(f"ALTER TABLE reject SET TABLESPACE {tablespace}"))
                fill(space)
            else:  # stand-in: the error PostgreSQL raises when it cannot extend a file
                conn.execute(
                    text(
                        "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ "
                        "BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' "
                        "USING ERRCODE = 'disk_full'; END $$"
                    )
                )
                conn.execute(
                    text(
                        "CREATE TRIGGER reject_disk_full BEFORE INSERT ON reject "
                        "FOR EACH ROW EXECUTE FUNCTION disk_full()"
                    )
                )
        env = run_env(tmp_path / "var", url, landing)
        before = snapshot(engine)
        done = cli(["run", "--in-process", "--no-docs"], env)
        assert done.returncode == 1, done.stderr[-3000:]
        assert "publish failed" in done.stderr, done.stderr[-3000:]
        assert_consistent(engine)
        _no_wrong_quarantine(engine, reference)
        statuses = ledger(engine)
        stuck = {f for f, s in statuses.items() if s == "pending"}
        assert stuck, "files with rejected rows could not be published"
        assert any(s in FINAL for s in statuses.values()), "files without rejects were"
        assert snapshot(engine)["reject"] == before["reject"] == []
        with admin.connect() as conn:
            if mounted:
                free(space)
            else:
                conn.execute(text("DROP TRIGGER reject_disk_full ON reject"))
        _then_space_again(engine, env, reference)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            if mounted:
                conn.execute(text("ALTER TABLE reject SET TABLESPACE pg_default"))
        admin.dispose()
        drop_schema(pg_url, schema)
        if mounted:
            cleanup = create_engine(pg_url, isolation_level="AUTOCOMMIT")
            with cleanup.connect() as conn:
                conn.execute(text(f"DROP TABLESPACE IF EXISTS {tablespace}"))
            cleanup.dispose()
            umount(space)
        shutil.rmtree(space, ignore_errors=True)


def _limited(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_sqlite_warehouse_on_a_full_disk(year_landing: Path, reference, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    copy_landing(year_landing, landing, until=date(2024, 6, 30))
    volume = tmp_path / "volume"
    with tmpfs(volume, "8m") as mounted:
        url = f"sqlite:///{volume / 'warehouse.db'}"
        assert ingest_in_process(url, landing, tmp_path / "var").exit_code == 0
        copy_landing(year_landing, landing)
        engine = open_warehouse(url)
        try:
            with engine.connect() as conn:  # an empty WAL: the run's first write must grow a file
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            before = snapshot(engine)
            env = run_env(tmp_path / "var", url, landing)
            if mounted:
                fill(volume, leave=256 * 1024)  # room for a few files, then full mid-run
                done = cli(["run", "--in-process", "--no-docs"], env)
            else:  # stand-in: the run may not grow any file (the WAL included)
                done = subprocess.run(
                    [str(BIN / "bureau-stats"), "run", "--in-process", "--no-docs"],
                    env=env,
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    timeout=600,
                    preexec_fn=lambda: _limited(0),
                )
            assert done.returncode != 0, "a run that cannot write must fail"
            assert any(m in done.stderr for m in ("full", "disk", "publish failed")), done.stderr[
                -3000:
            ]
            assert_consistent(engine)
            _no_wrong_quarantine(engine, reference)
            assert set(before["reject"]) <= set(snapshot(engine)["reject"])  # nothing lost
            if mounted:
                free(volume)
            _then_space_again(engine, env, reference)
        finally:
            engine.dispose()
