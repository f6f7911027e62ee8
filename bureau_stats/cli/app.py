"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="bureau-stats",
    help="Turn a market-regulation bureau's export files into its annual-report figures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_QUARANTINE = 1
EXIT_USAGE = 2


@app.callback()
def _root() -> None:
    """Turn a market-regulation bureau's export files into its annual-report figures."""
