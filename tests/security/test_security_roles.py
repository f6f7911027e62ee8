"""The read-only role for report consumers, on the real PostgreSQL server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from metrics.engine import compute_metrics
from metrics.mart import refresh_mart
from tests.faults.fault_helpers import (
    cli,
    drop_schema,
    generate_year,
    ingest_in_process,
    pg_schema_url,
    run_env,
)
from warehouse.engine import WarehouseError, open_warehouse
from warehouse.roles import create_reader_role, drop_reader_role, role_privileges
from warehouse.schema import SOURCE_TABLES

pytestmark = pytest.mark.postgres

READABLE = {"batch", "reject", "delivery_warning", "metric_mart", "alembic_version", *SOURCE_TABLES}
REFUSED = (
    "INSERT INTO batch (source, file, name, sha256, period_start, period_end, version, "
    "delivery_order, status, first_seen_at) VALUES ('cases', 'f', 'f', 'x', '2024-01-01', "
    "'2024-01-31', 1, 999, 'published', now())",
    "UPDATE cases SET superseded_at = now()",
    "DELETE FROM reject",
    "TRUNCATE metric_mart",
    "SELECT * FROM source_lock",
    "CREATE TABLE mine (i int)",
    "DROP TABLE batch",
    "ALTER TABLE batch ADD COLUMN x int",
)


@dataclass
class Loaded:
    url: str
    engine: Engine
    landing: Path


@pytest.fixture(scope="module")
def loaded(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """A warehouse schema holding a published year of `cases` and its metrics mart."""
    import os

    os.environ.setdefault("BUREAU_STATS_PII_KEY", "test-pii-key")
    root = tmp_path_factory.mktemp("reader")
    landing = generate_year(root / "landing", ("cases",))
    url, schema = pg_schema_url(pg_url)
    assert ingest_in_process(url, landing, root / "var").exit_code == 0
    engine = open_warehouse(url)
    refresh_mart(engine, 2024)
    try:
        yield Loaded(url, engine, landing)
    finally:
        engine.dispose()
        drop_schema(pg_url, schema)


@pytest.fixture()
def role(loaded: Loaded) -> Iterator[str]:
    name = f"bsr_{uuid.uuid4().hex[:10]}"  # roles are cluster-wide: never clash with others
    try:
        yield name
    finally:
        drop_reader_role(loaded.engine, name)


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role).render_as_string(hide_password=False)


def test_reader_reads_the_ledger_sources_and_mart_and_nothing_else(
    loaded: Loaded, role: str
) -> None:
    granted = create_reader_role(loaded.engine, role)
    assert set(granted) == READABLE
    privileges = role_privileges(loaded.engine, role)
    assert set(privileges) == READABLE
    assert all(p == {"SELECT"} for p in privileges.values()), privileges

    reader = create_engine(_as(loaded.url, role))
    try:
        assert compute_metrics(reader, 2024) == compute_metrics(loaded.engine, 2024)
        with reader.connect() as conn:
            for table in ("batch", "reject", "metric_mart", "cases"):
                conn.execute(text(f"SELECT count(*) FROM {table}"))  # noqa: S608 - constant names
            conn.rollback()
            for statement in REFUSED:
                with pytest.raises(DBAPIError) as refused:
                    conn.execute(text(statement))
                conn.rollback()
                message = str(refused.value.orig)
                assert any(
                    m in message
                    for m in ("permission denied", "read-only transaction", "must be owner")
                ), (statement, message)
            # Turning read-only off does not help: the privileges are not there.
            conn.execute(text("SET default_transaction_read_only = off"))
            conn.commit()
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text("DELETE FROM batch"))
            conn.rollback()
    finally:
        reader.dispose()


def test_report_commands_work_with_the_reader(loaded: Loaded, role: str, tmp_path: Path) -> None:
    create_reader_role(loaded.engine, role)
    env = run_env(tmp_path / "var", _as(loaded.url, role), loaded.landing)
    done = cli(["metrics", "--year", "2024", "--json"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)["metrics"]
    assert figures["cases.filed"] == int(compute_metrics(loaded.engine, 2024)["cases.filed"])
    done = cli(["status", "--json"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["batches"]


def test_running_it_again_takes_back_stray_grants(loaded: Loaded, role: str) -> None:
    create_reader_role(loaded.engine, role)
    with loaded.engine.begin() as conn:
        conn.exec_driver_sql(f"GRANT INSERT, DELETE ON batch, source_lock TO {role}")
    assert "INSERT" in role_privileges(loaded.engine, role)["batch"]
    create_reader_role(loaded.engine, role)
    privileges = role_privileges(loaded.engine, role)
    assert set(privileges) == READABLE
    assert all(p == {"SELECT"} for p in privileges.values()), privileges


def test_the_password_never_reaches_the_server_in_clear(loaded: Loaded, role: str) -> None:
    secret = "reader-pw-Zq8-" + uuid.uuid4().hex
    create_reader_role(loaded.engine, role, password=secret)
    with loaded.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": role}
        ).scalar_one()
        read_only = conn.execute(
            text(
                "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                "WHERE r.rolname = :r"
            ),
            {"r": role},
        ).scalar_one()
    assert stored.startswith("SCRAM-SHA-256$") and secret not in stored
    assert "default_transaction_read_only=on" in read_only


def test_the_command_reads_the_password_from_the_environment(
    loaded: Loaded, role: str, tmp_path: Path
) -> None:
    secret = "reader-pw-" + uuid.uuid4().hex
    env = run_env(tmp_path / "var", loaded.url, loaded.landing, READER_PW=secret)
    done = cli(["create-reader-role", "--role", role, "--password-env", "READER_PW"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert secret not in done.stdout + done.stderr
    assert "SELECT on" in done.stdout
    missing = cli(["create-reader-role", "--role", role, "--password-env", "NOT_SET"], env)
    assert missing.returncode == 2 and "NOT_SET" in missing.stderr


def test_hostile_role_names_are_refused(loaded: Loaded) -> None:
    with pytest.raises(ValueError, match="invalid role name"):
        create_reader_role(loaded.engine, "x'; DROP TABLE batch;--")
    with pytest.raises(ValueError, match="invalid role name"):
        create_reader_role(loaded.engine, 'Reader"; DROP ROLE postgres; --')


def test_sqlite_has_no_roles(tmp_path: Path) -> None:
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with pytest.raises(WarehouseError, match="only on PostgreSQL"):
            create_reader_role(engine, "bureau_stats_reader")
    finally:
        engine.dispose()
