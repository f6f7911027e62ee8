"""Alembic environment: the target is `warehouse.schema.metadata` (with its naming convention),
including tables other modules declare on it (`warehouse.engine.TABLE_MODULES`).

Run through `warehouse.engine.migrate`, which passes an open connection (inside a transaction
holding the migration lock) in `config.attributes["connection"]`. Without one (the `alembic`
command line), the URL comes from BUREAU_STATS_WAREHOUSE_URL / the settings default.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from warehouse.engine import full_metadata
from warehouse.schema import Amount

config = context.config


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the exact-decimal type by name (and import it) in generated revisions."""
    if type_ == "type" and isinstance(obj, Amount):
        autogen_context.imports.add("from warehouse.schema import Amount")
        return "Amount()"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=full_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from warehouse.engine import create_warehouse_engine, writer

    url = config.attributes.get("url")
    if url is None:
        raise SystemExit("no database to migrate: alembic_config(url=...) names it")
    engine = create_warehouse_engine(url)
    with writer(engine) as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run against a database")
run_migrations_online()
