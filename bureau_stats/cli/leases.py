"""`bureau-stats unlock SOURCE`: show who holds a source's lease and release it on the
operator's word (a run that died on a host that no longer exists, without waiting for the
lease to expire).

Exit codes: 0 released (or nobody held it), 1 not released (declined, or the holder changed
meanwhile), 2 unknown source or configuration error.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bureau_stats.cli.app import EXIT_OK, EXIT_QUARANTINE, EXIT_USAGE, app

EXIT_NOT_RELEASED = EXIT_QUARANTINE  # 1: the command did not do what was asked


def _shown(value: object) -> str:
    from datetime import datetime

    from connectors.bureau_time import BUREAU_TZ

    if not isinstance(value, datetime):
        return "-"
    return value.astimezone(BUREAU_TZ).isoformat(timespec="seconds")


@app.command("unlock")
def unlock_command(
    source: Annotated[str, typer.Argument(help="The source whose lease to release")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Release without asking for confirmation")
    ] = False,
    warehouse: Annotated[
        str | None, typer.Option("--warehouse", help="Warehouse URL (default: the settings)")
    ] = None,
) -> None:
    """Show who holds SOURCE's lease (since when, last heartbeat, expiry) and release it after
    confirmation. Meant for a holder that is gone (a live run renews its lease: stop it first;
    each publish still takes the database lock, so two publishes never overlap). Exit 0
    released or free, 1 not released, 2 unknown source."""
    from pydantic import ValidationError

    from bureau_stats.settings import MissingSettingError, load_settings
    from connectors.sources import SOURCES
    from warehouse.engine import WarehouseError, open_warehouse
    from warehouse.leases import break_lease, lease_of

    if source not in SOURCES:
        print(f"error: unknown source {source!r}; known: {', '.join(SOURCES)}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    try:
        url = load_settings(warehouse_url=warehouse).resolved_warehouse_url()
        engine = open_warehouse(url)
    except (MissingSettingError, WarehouseError, ValidationError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        lease = lease_of(engine, source)
        if lease is None:
            print(f"source {source} is not locked")
            raise typer.Exit(EXIT_OK)
        state = "expired" if lease.expired() else "live"
        print(
            f"source {source} is locked by {lease.holder}\n"
            f"  since           {_shown(lease.acquired_at)}\n"
            f"  last heartbeat  {_shown(lease.heartbeat_at)}\n"
            f"  expires         {_shown(lease.expires_at)} ({state})"
        )
        if not yes and not typer.confirm(f"Release the lease of {source}?", default=False):
            print("not released")
            raise typer.Exit(EXIT_NOT_RELEASED)
        if not break_lease(engine, source, lease.holder):
            print(f"not released: {lease.holder} no longer holds {source}", file=sys.stderr)
            raise typer.Exit(EXIT_NOT_RELEASED)
        print(f"released the lease of {source} held by {lease.holder}")
        raise typer.Exit(EXIT_OK)
    finally:
        engine.dispose()
