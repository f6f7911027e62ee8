"""`bureau-stats inspect FILE`: read one export and show its accounting and rejects."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bureau_stats.cli.app import EXIT_QUARANTINE, EXIT_USAGE, app


@app.command()
def inspect(
    file: Annotated[
        Path,
        typer.Argument(
            help="An export file, e.g. landing/registration/经营主体登记业务明细_20240101-20240131.csv"
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    limit: Annotated[int, typer.Option(help="Rejected rows to show")] = 20,
    threshold: Annotated[float | None, typer.Option(help="Reject share that quarantines")] = None,
) -> None:
    """Read one export file (no warehouse) and print its row accounting and rejected rows."""
    from decimal import Decimal

    from bureau_stats.settings import load_settings
    from connectors.extract import extract_file
    from connectors.landing import IgnoredFile, landing_file
    from connectors.printable import for_console as esc
    from connectors.printable import printable

    settings = load_settings()
    if not file.is_file():
        print(f"error: {printable(file)} is not a file", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    found = landing_file(str(file.parent.parent), f"{file.parent.name}/{file.name}")
    if isinstance(found, IgnoredFile):
        print(f"error: {printable(file.name)} is not a delivery: {found.why}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    batch = extract_file(
        found,
        pii_key=settings.pii_key_bytes(allow_development_key=True),
        threshold=Decimal(str(threshold)) if threshold is not None else settings.reject_threshold,
    )
    rejects = batch.rejects.head(limit)
    summary: dict[str, object] = {
        "file": found.relative,
        "source": found.source,
        "period": [found.period_start.isoformat(), found.period_end.isoformat()],
        "version": found.version,
        "sha256": batch.sha256,
        "verdict": batch.verdict,
        "reason": batch.reason,
        "detail": batch.detail,
        "rows_read": batch.rows_read,
        "rows_accepted": batch.rows_accepted,
        "rows_rejected": batch.rows_rejected,
        "rows_duplicate": batch.rows_duplicate,
        "warnings": batch.warnings,
        "rejects": [
            {"line": int(r.line), "reason": r.reason, "column": r.column, "raw": json.loads(r.raw)}
            for r in rejects.itertuples()
        ],
    }
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        console = Console()
        colour = "green" if batch.verdict == "readable" else "red"
        console.print(
            f"[bold]{esc(found.relative)}[/] ({found.source}, {found.period_start} – {found.period_end}, "
            f"v{found.version})"
        )
        console.print(
            f"verdict: [{colour}]{batch.verdict}[/]"
            + (f" — {esc(batch.reason)}: {esc(batch.detail)}" if batch.reason else "")
        )
        console.print(
            f"rows read {batch.rows_read} = accepted {batch.rows_accepted} + rejected "
            f"{batch.rows_rejected} + duplicate {batch.rows_duplicate}"
        )
        for w in batch.warnings:
            console.print(f"[yellow]warning:[/] {esc(w)}")
        if len(rejects):
            table = Table("line", "reason", "column", "raw (personal data masked)")
            for r in rejects.itertuples():
                table.add_row(str(r.line), esc(r.reason), esc(r.column), esc(r.raw))
            console.print(table)
    if batch.verdict == "quarantine":
        raise typer.Exit(EXIT_QUARANTINE)
