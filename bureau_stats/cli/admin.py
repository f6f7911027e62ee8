"""`bureau-stats migrate` and `bureau-stats automations apply`: the installation steps a
deployment runs once before its worker starts (docker-compose.yml's `migrate` and `deploy`).

Exit codes: 0 done, 2 usage or configuration error (the warehouse or the Prefect server cannot
be reached, a notification block that does not exist).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bureau_stats.cli.app import EXIT_OK, EXIT_USAGE, app

automations_app = typer.Typer(
    help="The operators' notifications, as Prefect automations (committed definitions).",
    no_args_is_help=True,
)
app.add_typer(automations_app, name="automations")


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_USAGE)


@app.command()
def migrate(
    warehouse: Annotated[
        str | None,
        typer.Option("--warehouse", help="Warehouse URL (default: the settings)"),
    ] = None,
) -> None:
    """Bring the warehouse schema to the latest revision (no-op when it already is).

    Every command also migrates on first use; this runs it as an explicit step, before any
    worker starts. Exit codes: 0 done, 2 the warehouse cannot be opened.
    """
    from sqlalchemy import text

    from bureau_stats.settings import load_settings
    from warehouse.engine import WarehouseError, open_warehouse

    try:
        engine = open_warehouse(load_settings(warehouse_url=warehouse).resolved_warehouse_url())
    except WarehouseError as exc:
        raise _fail(str(exc)) from None
    try:
        with engine.connect() as conn:
            revisions = sorted(
                conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
    finally:
        engine.dispose()
    print(f"warehouse schema at revision {', '.join(revisions)}")
    raise typer.Exit(EXIT_OK)


@automations_app.command("apply")
def automations_apply(
    notify_block: Annotated[
        str | None,
        typer.Option(
            "--notify-block",
            help="Notification block TYPE/NAME to send through, e.g. slack-webhook/operators "
            "(default: BUREAU_STATS_NOTIFY_BLOCK; unset: the automations fire but do nothing)",
        ),
    ] = None,
) -> None:
    """Create or update, by name, the committed automations on the Prefect server
    (PREFECT_API_URL): nightly failed or crashed, a source overdue, a backfill finished.

    Idempotent: applying again updates them in place. Exit codes: 0 done, 2 the server cannot
    be reached or the block does not exist.
    """
    import httpx
    from prefect.settings import PREFECT_API_URL

    from bureau_stats.automations import AutomationError, apply
    from bureau_stats.settings import load_settings

    if not PREFECT_API_URL.value():
        raise _fail(
            "PREFECT_API_URL is not set: the automations would go to a temporary server that "
            "disappears with this command; export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    block = notify_block or load_settings().notify_block
    try:
        applied = apply(block)
    except AutomationError as exc:
        raise _fail(str(exc)) from None
    except (httpx.HTTPError, RuntimeError) as exc:
        raise _fail(f"the Prefect server cannot be reached or refused: {exc}") from None
    for a in applied:
        removed = f" ({a.removed} duplicate(s) removed)" if a.removed else ""
        print(f"{a.action:<8} {a.name}{removed}")
    print(
        f"notifications through {block}"
        if block
        else "no notification block named (BUREAU_STATS_NOTIFY_BLOCK): the automations fire "
        "but do nothing"
    )
    raise typer.Exit(EXIT_OK)
