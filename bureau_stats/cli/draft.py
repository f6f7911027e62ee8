"""`bureau-stats check-draft`: the figures of a report written by hand, against the warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bureau_stats.cli.app import app
from bureau_stats.cli.metrics import WAREHOUSE, YEAR, _open, _region

EXIT_MISMATCH = 1
EXIT_UNREADABLE = 2
DRAFT = typer.Argument(..., help="The draft: .docx, .md or .txt.")


@app.command("check-draft")
def check_draft_command(
    draft: Path = DRAFT,
    year: int = YEAR,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    warehouse: str | None = WAREHOUSE,
) -> None:
    """Check every catalog figure a draft states against the warehouse (exit 1 on a mismatch)."""
    from metrics.catalog import load_catalog
    from metrics.engine import compute_metrics, render_value
    from report.draft_check import as_json as json_doc
    from report.draft_check import check, cut_offs, find_statements, not_stated
    from report.draft_read import UnreadableDraft, read_blocks

    try:
        blocks = read_blocks(draft)
    except UnreadableDraft as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    catalog = load_catalog()
    statements, unresolved = find_statements(blocks, catalog, year)
    region = _region()
    engine = _open(warehouse)
    try:
        values = {
            as_of: compute_metrics(engine, year, as_of, None, region, catalog=catalog)
            for as_of in cut_offs(statements)
        }
    finally:
        engine.dispose()
    checked = check(statements, values)
    missing = not_stated(catalog, statements)
    failed = any(c.status == "mismatch" for c in checked)
    if as_json:
        doc = json_doc(checked, missing, unresolved)
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        raise typer.Exit(EXIT_MISMATCH if failed else 0)
    console = Console()
    table = Table(title=f"{draft.name}: {len(checked)} statements of {year} figures")
    for column in ("code", "draft", "warehouse", "as of", "status", "sentence"):
        table.add_column(column, overflow="fold")
    for c in checked:
        colour = {"match": "green", "approximate": "yellow"}.get(c.status, "red")
        table.add_row(
            c.statement.code,
            c.statement.draft,
            f"{render_value(c.value)} {catalog[c.statement.code].unit}",
            c.statement.as_of.isoformat(),
            f"[{colour}]{c.status}[/{colour}]",
            c.statement.text,
        )
    console.print(table)
    for u in unresolved:
        console.print(f"unresolved: {u.phrase} ({', '.join(u.codes)}) in {u.text}", soft_wrap=True)
    console.print(f"not stated ({len(missing)}): {', '.join(missing) or '-'}", soft_wrap=True)
    counts = {s: sum(c.status == s for c in checked) for s in ("match", "approximate", "mismatch")}
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))
    raise typer.Exit(EXIT_MISMATCH if failed else 0)
