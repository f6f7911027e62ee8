"""`bureau-stats create-reader-role`: the read-only PostgreSQL role for report consumers.

The password is read from an environment variable named on the command line, never from the
command line itself (which `ps` shows to every user of the machine).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from bureau_stats.cli.app import EXIT_OK, EXIT_USAGE, app


@app.command("create-reader-role")
def create_reader_role_command(
    role: Annotated[
        str, typer.Option("--role", help="Role name (lower-case letters, digits, _)")
    ] = "bureau_stats_reader",
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env",
            help="Name of the environment variable holding the role's password "
            "(e.g. BUREAU_STATS_READER_PASSWORD); without it the password is left as it is",
        ),
    ] = None,
    login: Annotated[
        bool, typer.Option("--login/--no-login", help="Whether the role may log in")
    ] = True,
    warehouse: Annotated[
        str | None,
        typer.Option("--warehouse", help="PostgreSQL warehouse URL (default: the settings)"),
    ] = None,
) -> None:
    """Create or update a read-only role: SELECT on the ledger, the source tables and the
    metrics mart, nothing else. Run it as the warehouse owner, again after a migration."""
    from bureau_stats.settings import load_settings
    from warehouse.engine import WarehouseError, open_warehouse
    from warehouse.roles import create_reader_role

    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            print(f"error: environment variable {password_env} is not set", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE)
    try:
        engine = open_warehouse(load_settings(warehouse_url=warehouse).resolved_warehouse_url())
        try:
            tables = create_reader_role(engine, role, password=password, login=login)
        finally:
            engine.dispose()
    except (WarehouseError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None
    print(f"role {role}: SELECT on {', '.join(tables)}; nothing else")
    raise typer.Exit(EXIT_OK)
