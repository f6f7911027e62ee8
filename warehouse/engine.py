"""Opening the warehouse: one function, the same code on SQLite and PostgreSQL.

`open_warehouse(url)` returns an Engine whose schema is at the latest Alembic revision: the
migrations are package data (found next to this module, never via the current directory) and
are applied on first use, under a lock so two processes starting at once migrate only once.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, exc, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key serializing schema migrations (any constant unique to this app).
MIGRATION_LOCK_KEY = 0x62757265_61750001  # "bureau" + 1

# Modules that declare tables on `warehouse.schema.metadata` (Alembic compares against all).
TABLE_MODULES = ("warehouse.schema", "metrics.mart", "warehouse.pii_key")

_migrated: set[str] = set()
_migrate_lock = threading.Lock()


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as configured (bad URL, unreachable server, ...).

    The CLI maps it to exit code 2: it is a configuration problem, not a data problem.
    """


def full_metadata() -> MetaData:
    """`warehouse.schema.metadata` with the tables of every module that adds to it."""
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    from warehouse.schema import metadata

    return metadata


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL (readers never block the writer), enforced foreign keys, and a busy timeout.

    The driver's own transaction handling is switched off so that SQLAlchemy emits BEGIN
    itself: `BEGIN IMMEDIATE` for writers (execution option `sqlite_begin="IMMEDIATE"`) takes
    the write lock up front, which serializes publishers the way an advisory lock does on
    PostgreSQL, and plain deferred `BEGIN` for readers.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_warehouse_engine(url: str) -> Engine:
    """An Engine configured for the backend, without touching the schema."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as e:
        raise WarehouseError(f"warehouse URL {url!r} is not a valid SQLAlchemy URL") from e
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise WarehouseError(
            f"warehouse URL must be sqlite:///… or postgresql+psycopg://…, not {backend}://"
        )
    if backend == "postgresql" and parsed.get_driver_name() not in ("psycopg", ""):
        raise WarehouseError(
            "PostgreSQL warehouse URLs use the psycopg 3 driver: postgresql+psycopg://…"
        )
    if backend == "postgresql" and parsed.get_driver_name() == "":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise WarehouseError(
                "the SQLite warehouse must be a file: sqlite:///path/to/warehouse.db"
            )
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            reason = e.strerror or type(e).__name__
            raise WarehouseError(
                f"the SQLite warehouse folder {folder} cannot be created: {reason}"
            ) from None
    try:
        # hide_parameters: a failed statement's message must not quote row values (personal data)
        # into logs or Prefect task states.
        engine = create_engine(parsed, pool_pre_ping=backend == "postgresql", hide_parameters=True)
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as e:
        raise WarehouseError(f"cannot use warehouse URL {_shown(url)}: {e}") from e
    if backend == "sqlite":
        _sqlite_pragmas(engine)
    return engine


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable URL>"


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Any:
    """The Alembic configuration, built in code (no alembic.ini, no dependence on cwd).

    Migrations run on `connection`, or on a connection of their own to `url` (a developer's
    `command.revision(alembic_config(url=...), ..., autogenerate=True)`)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


def _current_and_head(conn: Connection) -> tuple[set[str], set[str]]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    current = set(MigrationContext.configure(conn).get_current_heads())
    return current, heads


@contextmanager
def writer(engine: Engine) -> Iterator[Connection]:
    """A write transaction: `BEGIN IMMEDIATE` on SQLite, a normal transaction on PostgreSQL."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision (no-op when it already is)."""
    from alembic import command

    with engine.connect() as conn:
        current, heads = _current_and_head(conn)
        conn.rollback()
    if current == heads:
        return
    with writer(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        current, heads = _current_and_head(conn)  # another process may have done it meanwhile
        if current != heads:
            log.info("migrating warehouse schema to %s", ", ".join(sorted(heads)))
            command.upgrade(alembic_config(conn), "heads")


def _migrate_when_free(engine: Engine) -> None:
    """`migrate`, retried while SQLite says "database is locked" within the busy timeout.

    Two processes opening a new SQLite file at once can get that answer at once, without the
    busy handler ever waiting (one switches the file to WAL or holds a stale read snapshot
    while the other creates the schema); trying again a moment later succeeds.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            migrate(engine)
            return
        except exc.OperationalError as e:
            locked = engine.dialect.name == "sqlite" and "database is locked" in str(e.orig)
            if not locked or time.monotonic() > deadline:
                raise
            engine.dispose()  # the next try starts from fresh connections
            time.sleep(0.2)


def open_warehouse(url: str) -> Engine:
    """An Engine on the warehouse at `url`, its schema migrated to the latest revision."""
    engine = create_warehouse_engine(url)
    key = engine.url.render_as_string(hide_password=False)
    try:
        with _migrate_lock:
            if key not in _migrated:
                _migrate_when_free(engine)
                _migrated.add(key)
    except exc.DatabaseError as e:  # unreachable, or a file that is not a database
        engine.dispose()
        reason = str(e.orig).strip().splitlines()[0] if e.orig else type(e).__name__
        raise WarehouseError(f"cannot open warehouse {_shown(url)}: {reason}") from e
    return engine
