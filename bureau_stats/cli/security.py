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


@app.command("rotate-pii-key")
def rotate_pii_key_command(
    old_key_env: Annotated[
        str,
        typer.Option("--old-key-env", help="Environment variable holding the current PII key"),
    ],
    new_key_env: Annotated[
        str, typer.Option("--new-key-env", help="Environment variable holding the new PII key")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute everything, change nothing")
    ] = False,
    landing: Annotated[
        str | None,
        typer.Option("--landing", help="Landing area (default: BUREAU_STATS_LANDING)"),
    ] = None,
    warehouse: Annotated[
        str | None,
        typer.Option("--warehouse", help="Warehouse URL (default: the settings)"),
    ] = None,
) -> None:
    """Re-hash every identity number in the warehouse from the old PII key to the new one,
    in one transaction, and record the new key's fingerprint.

    Hashes are one-way: every delivered file of the ledger is read again from the landing
    area (as delivered: same sha256) to pair each old hash with its new one. Stop the
    nightly runs first; afterwards set BUREAU_STATS_PII_KEY to the new key. Exit codes:
    0 done, 2 refused (a key missing or wrong, a delivered file gone): nothing changed.
    """
    from bureau_stats.pii_rotation import rotate_pii_key
    from bureau_stats.settings import load_settings
    from warehouse.engine import WarehouseError, open_warehouse

    keys = []
    for variable in (old_key_env, new_key_env):
        value = os.environ.get(variable)
        if not value:
            print(f"error: environment variable {variable} is not set", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE)
        keys.append(value.encode("utf-8"))
    try:
        settings = load_settings(warehouse_url=warehouse, landing=landing)
        engine = open_warehouse(settings.resolved_warehouse_url())
        try:
            done = rotate_pii_key(
                engine, str(landing or settings.landing), keys[0], keys[1], dry_run=dry_run
            )
        finally:
            engine.dispose()
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None
    verb = "would re-hash" if dry_run else "re-hashed"
    print(
        f"{verb} {done.hashes} identity hash(es) in {done.cells} cell(s) from "
        f"{done.deliveries} delivered file(s)"
        + ("; nothing changed (dry run)" if dry_run else "; the new key's fingerprint is recorded")
    )
    raise typer.Exit(EXIT_OK)
