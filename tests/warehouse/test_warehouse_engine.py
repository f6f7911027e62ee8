"""open_warehouse: migrations applied on first use, same schema on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from warehouse.engine import WarehouseError, alembic_config, full_metadata, open_warehouse
from warehouse.schema import SOURCE_TABLES


def test_migrations_applied_and_schema_matches_metadata(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"batch", "reject", "source_lock", *SOURCE_TABLES} <= tables
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        assert set(MigrationContext.configure(conn).get_current_heads()) == heads
        diff = compare_metadata(MigrationContext.configure(conn), full_metadata())
    assert diff == []


def test_published_at_is_the_transactions_start_on_postgresql(engine: Engine) -> None:
    """COPY leaves published_at to this default (`warehouse.leases.publish_transaction`): a
    source table without it would refuse every row."""
    found = {
        table: {c["name"]: c["default"] for c in inspect(engine).get_columns(table)}["published_at"]
        for table in SOURCE_TABLES
    }
    expected = "transaction_timestamp()" if engine.dialect.name == "postgresql" else None
    assert found == dict.fromkeys(SOURCE_TABLES, expected)


def test_reopening_is_a_no_op(warehouse_url: str) -> None:
    first = open_warehouse(warehouse_url)
    with first.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO source_lock (source, holder, acquired_at) "
                "VALUES ('cases', 'someone', CURRENT_TIMESTAMP)"
            )
        )
    first.dispose()
    again = open_warehouse(warehouse_url)
    with again.connect() as conn:
        assert conn.execute(text("SELECT holder FROM source_lock")).scalar_one() == "someone"
    again.dispose()


def test_revision_files_are_date_prefixed() -> None:
    versions = Path(alembic_config().get_main_option("script_location")) / "versions"
    names = [p.name for p in versions.glob("*.py") if p.name != "__init__.py"]
    assert names
    assert all(n[:11].replace("_", "").isdigit() and n[4] == n[7] == n[10] == "_" for n in names)


def test_sqlite_folder_created_pragmas_and_any_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # migrations are found through the package, not the cwd
    db = tmp_path / "deep" / "var" / "warehouse.db"
    engine = open_warehouse(f"sqlite:///{db}")
    assert db.exists()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000
    engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "mysql://user@localhost/db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(WarehouseError) as info:
        open_warehouse(url)
    assert "\n" not in str(info.value)
