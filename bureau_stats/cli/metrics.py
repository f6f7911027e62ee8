"""`bureau-stats metrics`, `explain` and `report`: the figures, their lineage, the report."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from bureau_stats.cli.app import app

# Year Y also reads Y-1 (year-on-year figures): both must be calendar years Python can hold.
YEAR = typer.Option(..., "--year", min=2, max=9999, help="Report year, e.g. 2024.")
AS_OF = typer.Option(
    None, "--as-of", help="Cut-off date YYYY-MM-DD (default: the year's last day)."
)
AS_KNOWN_AT = typer.Option(
    None,
    "--as-known-at",
    help="Recompute from what the warehouse held at this moment (ISO timestamp; "
    "without an offset it is bureau time, Asia/Shanghai).",
)
WAREHOUSE = typer.Option(
    None, "--warehouse", help="Warehouse URL (default: BUREAU_STATS_WAREHOUSE_URL / settings)."
)
OUT = typer.Option(..., "--out", help="Folder the report files are written to.")
FORMAT = typer.Option("md,docx,html", "--format", help="Comma list of md, docx, html.")
TEMPLATE = typer.Option(
    None,
    "--template",
    help="Render this Word template (a .docx path, or a shipped one: statistics, rule_of_law) "
    "instead of the built-in formats.",
)


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD", param_hint=option) from None


def _cut_off(text: str | None, year: int) -> date | None:
    """`--as-of`: a date not before the report year starts (an empty window is no period)."""
    cut_off = _date(text, "--as-of")
    if cut_off is not None and cut_off < date(year, 1, 1):
        raise typer.BadParameter(
            f"{cut_off} is before the report year {year} starts", param_hint="--as-of"
        )
    return cut_off


def _timestamp(text: str | None) -> datetime | None:
    from metrics.engine import parse_timestamp

    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except (ValueError, OverflowError):  # OverflowError: an instant beyond year 1 or 9999 in UTC
        raise typer.BadParameter(
            f"{text!r} is not an ISO timestamp (e.g. 2024-07-01T08:00:00+08:00)",
            param_hint="--as-known-at",
        ) from None


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M}"


def _open(url: str | None) -> Any:
    from bureau_stats.settings import load_settings
    from warehouse.engine import open_warehouse

    return open_warehouse(url or load_settings().resolved_warehouse_url())


def _coverage(engine: Any, year: int, as_of: date, known_at: datetime | None) -> dict[str, Any]:
    """Every figure's coverage (metrics/coverage.py), with the configured region and due day."""
    from bureau_stats.settings import load_settings
    from metrics.coverage import figure_coverage

    settings = load_settings()
    return figure_coverage(
        engine, year, as_of, known_at, region=settings.region, due_day=settings.delivery_due_day
    )


def _region() -> str:
    from bureau_stats.settings import load_settings

    return load_settings().region


@app.command("metrics")
def metrics_command(
    year: int = YEAR,
    as_of: str | None = AS_OF,
    as_known_at: str | None = AS_KNOWN_AT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    warehouse: str | None = WAREHOUSE,
) -> None:
    """Compute every report figure of the catalog for a year (and cut-off)."""
    from metrics.catalog import load_catalog
    from metrics.engine import Window, compute_metrics, json_value, render_value

    cut_off = _cut_off(as_of, year)
    known_at = _timestamp(as_known_at)
    window = Window.of(year, cut_off)
    engine = _open(warehouse)
    try:
        values = compute_metrics(engine, year, window.as_of, known_at, _region())
        coverage = _coverage(engine, year, window.as_of, known_at)
    finally:
        engine.dispose()
    if as_json:
        doc = {
            "year": year,
            "as_of": window.as_of.isoformat(),
            "metrics": {code: json_value(v) for code, v in values.items()},
            "coverage": {code: c.as_json() for code, c in coverage.items()},
        }
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    catalog = load_catalog()
    title = f"{year} metrics, as of {window.as_of}"
    if known_at is not None:
        title += f", as known at {known_at.isoformat()}"
    table = Table(title=title)
    table.add_column("code")
    table.add_column("label")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("missing (incomplete figure)", overflow="fold")
    for code, value in values.items():
        metric = catalog[code]
        gap = coverage[code]
        shown = render_value(value) if gap.complete else f"[bold red]{render_value(value)} *[/]"
        table.add_row(code, metric.label, shown, metric.unit, gap.summary())
    Console().print(table)
    incomplete = sum(not c.complete for c in coverage.values())
    if incomplete:
        Console().print(f"* {incomplete} figure(s) lack a period: not delivered or quarantined")


@app.command("explain")
def explain_command(
    metric: str = typer.Argument(..., help="Metric code, e.g. reg.establish."),
    year: int = YEAR,
    as_of: str | None = AS_OF,
    as_known_at: str | None = AS_KNOWN_AT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    warehouse: str | None = WAREHOUSE,
) -> None:
    """Show a figure's value, its definition and the batches (files) it was computed from."""
    from metrics.catalog import load_catalog
    from metrics.engine import Window, compute_metrics, describe, json_value
    from metrics.engine import render_value as shown
    from metrics.lineage import contributions
    from metrics.source_rows import describe_row, figure_rows, row_json

    catalog = load_catalog()
    if metric not in catalog.metrics:
        raise typer.BadParameter(f"unknown metric {metric!r}", param_hint="METRIC")
    cut_off = _cut_off(as_of, year)
    known_at = _timestamp(as_known_at)
    window = Window.of(year, cut_off)
    region = _region()
    engine = _open(warehouse)
    try:
        value = compute_metrics(engine, year, window.as_of, known_at, region, codes=[metric])[
            metric
        ]
        parts = contributions(engine, metric, year, window.as_of, known_at, region)
        coverage = _coverage(engine, year, window.as_of, known_at)[metric]
        read_from = figure_rows(engine, metric, year, window.as_of, known_at, region)
    finally:
        engine.dispose()
    m = catalog[metric]
    definition = describe(m, catalog, region)
    if as_json:
        doc = {
            "metric": metric,
            "label": m.label,
            "unit": m.unit,
            "year": year,
            "as_of": window.as_of.isoformat(),
            "window": [window.start.isoformat(), window.end.isoformat()],
            "value": json_value(value),
            "definition": definition,
            "coverage": coverage.as_json(),
            "batches": [
                {
                    "metric": c.metric,
                    "batch_id": c.batch_id,
                    "source": c.source,
                    "file": c.file,
                    "delivered_at": c.first_seen_at.isoformat() if c.first_seen_at else None,
                    "published_at": c.published_at.isoformat() if c.published_at else None,
                    "rows": c.rows,
                    "amount": json_value(c.amount) if c.amount is not None else None,
                    "month": c.month.isoformat() if c.month else None,
                }
                for c in parts
            ],
            "rows": [row_json(r) for r in read_from],
        }
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    console = Console()
    console.print(f"[bold]{metric}[/bold]  {m.label}")
    console.print(f"value:      [bold]{shown(value)}[/bold] {m.unit}")
    console.print(f"window:     {window.start} .. {window.end}")
    console.print(f"definition: {definition}", soft_wrap=True)
    console.print(
        "coverage:   complete"
        if coverage.complete
        else f"coverage:   [bold red]incomplete[/]: {coverage.summary()}",
        soft_wrap=True,
    )
    table = Table(title="contributing batches (times in UTC)")
    table.add_column("metric", no_wrap=True)
    table.add_column("batch", justify="right")
    table.add_column("file", overflow="fold")
    table.add_column("delivered", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("amount", justify="right")
    for c in parts:
        table.add_row(
            c.metric,
            str(c.batch_id),
            c.name,
            _utc(c.first_seen_at),
            str(c.rows),
            "" if c.amount is None else str(c.amount),
        )
    console.print(table)
    for row in read_from:
        console.print(f"read from:  {describe_row(row)}", soft_wrap=True)
    if not parts:
        console.print("no current rows match: the value comes from an empty window")


@app.command("report")
def report_command(
    year: int = YEAR,
    as_of: str | None = AS_OF,
    out: Path = OUT,
    formats: str = FORMAT,
    as_known_at: str | None = AS_KNOWN_AT,
    warehouse: str | None = WAREHOUSE,
    template: str | None = TEMPLATE,
    final: bool = typer.Option(
        False,
        "--final",
        help="The report to file: refuse (exit 3, one line per figure) when a figure lacks a "
        "period (not delivered or quarantined).",
    ),
    allow_incomplete: bool = typer.Option(
        False, "--allow-incomplete", help="With --final: render anyway, incomplete figures marked."
    ),
) -> None:
    """Render the annual report's statistical passages, tables and charts (or a Word template)."""
    from bureau_stats.settings import load_settings
    from report.render import IncompleteReport, parse_formats, render_report

    try:
        chosen = parse_formats(formats)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--format") from None
    cut_off = _cut_off(as_of, year)
    known_at = _timestamp(as_known_at)
    settings = load_settings()
    if template is not None:
        _report_from_template(
            template,
            year,
            cut_off,
            out,
            known_at,
            warehouse,
            settings,
            final=final and not allow_incomplete,
        )
        return
    engine = _open(warehouse)
    try:
        written = render_report(
            engine,
            year,
            cut_off,
            out,
            chosen,
            region=settings.region,
            bureau=settings.bureau,
            as_known_at=known_at,
            refresh=True,
            due_day=settings.delivery_due_day,
            final=final and not allow_incomplete,
        )
    except IncompleteReport as refused:
        for line in refused.lines():
            typer.echo(line, err=True)
        typer.echo(
            f"error: {len(refused.rows)} figure(s) incomplete: no final report written "
            "(--allow-incomplete renders it with the figures marked)",
            err=True,
        )
        raise typer.Exit(3) from None
    finally:
        engine.dispose()
    for path in written:
        typer.echo(str(path))


def _report_from_template(
    template: str,
    year: int,
    cut_off: date | None,
    out: Path,
    known_at: datetime | None,
    warehouse: str | None,
    settings: Any,
    final: bool = False,
) -> None:
    """`report --template`: one DOCX; an unknown code or a broken template exits 2, one line;
    `--final` with an incomplete figure in the document exits 3, one line per figure."""
    import sys

    from report.docx_template import (
        IncompleteTemplate,
        TemplateFigureError,
        resolve_template,
        write_template_report,
    )

    try:
        path = resolve_template(template)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    engine = _open(warehouse)
    try:
        written = write_template_report(
            engine,
            path,
            year,
            cut_off,
            out,
            final=final,
            region=settings.region,
            bureau=settings.bureau,
            as_known_at=known_at,
            due_day=settings.delivery_due_day,
        )
    except TemplateFigureError as exc:
        print(f"error: {path.name}: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    except IncompleteTemplate as refused:
        for line in refused.lines:
            print(line, file=sys.stderr)
        print(
            f"error: {len(refused.lines)} figure(s) incomplete: no final document written "
            "(--allow-incomplete renders it with the figures marked)",
            file=sys.stderr,
        )
        raise typer.Exit(3) from None
    finally:
        engine.dispose()
    typer.echo(str(written))
