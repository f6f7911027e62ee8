"""A read-only PostgreSQL role for the report's consumers (analysts, a BI tool, a report server).

`create_reader_role(engine)` creates (or brings back into shape) the role `bureau_stats_reader`:
it may connect to the warehouse database, use the warehouse schema, and SELECT from the ledger
(`batch`, `reject`, `delivery_warning`), the nine source tables and the metrics mart (`metric_mart`), plus
`alembic_version` so that `open_warehouse` can check the schema is current. Nothing else: no
INSERT/UPDATE/DELETE/TRUNCATE, no CREATE, not `source_lock`; every transaction of the role is
read-only by default as well (`default_transaction_read_only`). Run it again after a migration
adds a table. Only the pipeline's own role (the table owner) writes.

Identifiers cannot be bound parameters in DDL, so role, schema and database names are checked
against a strict pattern or quoted by psycopg (`sql.Identifier`); the password is hashed
(SCRAM-SHA-256) in this process, so the clear text never reaches the server or its logs.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, text

from warehouse.engine import WarehouseError, full_metadata

READER_ROLE = "bureau_stats_reader"
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Tables a report consumer may read, besides every per-source table.
READABLE_TABLES = ("batch", "reject", "delivery_warning", "metric_mart", "alembic_version")


def readable_tables() -> list[str]:
    """The warehouse tables the reader role gets SELECT on (ledger, sources, mart)."""
    from warehouse.schema import SOURCE_TABLES

    declared = set(full_metadata().tables)
    names = [t for t in READABLE_TABLES if t in declared or t == "alembic_version"]
    return names + sorted(SOURCE_TABLES)


def check_role_name(role: str) -> str:
    """Role names are plain lower-case identifiers; anything else is refused, not quoted."""
    if not ROLE_NAME.fullmatch(role):
        raise ValueError(
            f"invalid role name {role!r}: use lower-case letters, digits and _ (max 63)"
        )
    return role


def create_reader_role(
    engine: Engine,
    role: str = READER_ROLE,
    *,
    password: str | None = None,
    login: bool = True,
) -> list[str]:
    """Create or update the read-only `role`; returns the tables it may read. Idempotent.

    Privileges the role held before on the schema's tables are revoked first, so running it
    again never leaves a wider grant behind. `password=None` keeps the current one (or none:
    then it can only log in where pg_hba.conf trusts it).
    """
    from psycopg import sql

    check_role_name(role)
    if engine.dialect.name != "postgresql":
        raise WarehouseError(
            "database roles exist only on PostgreSQL; an SQLite warehouse is a file "
            "(give readers a read-only copy or file permissions instead)"
        )
    granted: list[str] = []
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        present = set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            ).scalars()
        )
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
        raw: Any = conn.connection.driver_connection
        who = sql.Identifier(role)
        attributes = sql.SQL(
            ("LOGIN" if login else "NOLOGIN")
            + " NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"
        )
        statements: list[sql.Composable] = [
            sql.SQL("CREATE ROLE {} WITH {}" if not exists else "ALTER ROLE {} WITH {}").format(
                who, attributes
            ),
            sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(who),
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(
                sql.Identifier(schema), who
            ),
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(schema), who),
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), who),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), who),
        ]
        if password is not None:
            hashed = raw.pgconn.encrypt_password(
                password.encode("utf-8"), role.encode("utf-8"), b"scram-sha-256"
            )
            statements.append(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    who, sql.Literal(hashed.decode("ascii"))
                )
            )
        for table in readable_tables():
            if table in present:
                statements.append(
                    sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(
                        sql.Identifier(schema, table), who
                    )
                )
                granted.append(table)
        with raw.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    return granted


def drop_reader_role(engine: Engine, role: str = READER_ROLE) -> None:
    """Remove the role's privileges in this database, then the role (no-op if absent).

    A role that also holds privileges in another database keeps existing (PostgreSQL refuses
    to drop it); run this in each of them.
    """
    from psycopg import sql

    check_role_name(role)
    with engine.begin() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
        if not exists:
            return
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def role_privileges(engine: Engine, role: str) -> dict[str, set[str]]:
    """Table -> privileges `role` holds in the current schema (what the tests check)."""
    check_role_name(role)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = :r AND table_schema = current_schema()"
            ),
            {"r": role},
        ).all()
    out: dict[str, set[str]] = {}
    for table, privilege in rows:
        out.setdefault(table, set()).add(privilege)
    return out
