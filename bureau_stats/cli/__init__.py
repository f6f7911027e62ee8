"""`bureau-stats` command line. Each area registers its commands in its own module."""

from __future__ import annotations

import importlib
import os
import sys

from bureau_stats.cli.app import EXIT_USAGE, app

# One module per area; each adds its commands to `app` when imported.
COMMAND_MODULES = (
    "bureau_stats.cli.sample",
    "bureau_stats.cli.inspect",
    "bureau_stats.cli.ingest",
    "bureau_stats.cli.metrics",
    "bureau_stats.cli.operate",
    "bureau_stats.cli.demo",
    "bureau_stats.cli.security",
    "bureau_stats.cli.admin",
    "bureau_stats.cli.leases",
    "bureau_stats.cli.draft",
    "bureau_stats.cli.template",
)


# Prefect waits 20 s for its temporary server; its first start (a new PREFECT_HOME migrates
# a database) took longer than that on a busy 2-core machine and failed the whole run.
EPHEMERAL_STARTUP_TIMEOUT_SECONDS = "120"


def _offline_defaults() -> None:
    """No phoning home: GX and Prefect analytics off unless the operator says otherwise.

    Also gives Prefect's temporary server time to start on a slow machine."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT_SECONDS
    )


def load_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A module of an area not built yet; the others still work.
            if exc.name != name:
                raise


def main() -> None:
    _offline_defaults()
    load_commands()
    from pydantic import ValidationError

    from bureau_stats.settings import MissingSettingError
    from tasks.secret_blocks import install

    install()  # settings may name Prefect Secret blocks

    try:
        app()
    except (MissingSettingError, ValidationError) as exc:
        from bureau_stats.cli.preflight import settings_error

        print(f"error: {settings_error(exc) or exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
