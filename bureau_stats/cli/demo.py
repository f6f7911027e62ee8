"""`bureau-stats demo`: the newcomer's tour — generate, run (load, refresh the mart, render the
report: the nightly run of `bureau-stats run`), compare with the published figures."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bureau_stats.cli.app import EXIT_QUARANTINE, app


def published_reference(year: int) -> dict[str, dict[str, Any]] | None:
    """The figures of the published report for `year`, shipped with the package: those of the
    exports and those no export holds (the demo's `manual` workbook types them in)."""
    from demo_data.manual import manual_figures

    resource = files("demo_data") / f"reference-{year}.json"
    if not resource.is_file():
        return None
    exported: dict[str, dict[str, Any]] = json.loads(resource.read_text(encoding="utf-8"))[
        "metrics"
    ]
    return {**exported, **(manual_figures(year) or {})}


def matches(expected: dict[str, Any], value: Any) -> bool:
    if value is None:
        return "value" in expected and expected["value"] is None
    if "range" in expected:
        low, high = expected["range"]
        return bool(low <= value <= high)
    return Decimal(str(value)) == Decimal(str(expected["value"]))


def compare_with_reference(
    engine: Any, year: int, region: str
) -> list[tuple[str, Any, Any, str, bool]]:
    """(code, published, computed, as_of, equal) for every published figure, as the mart
    holds it (a cut-off the run did not refresh is refreshed into it first)."""
    from metrics.mart import mart_figures

    reference = published_reference(year) or {}
    by_as_of: dict[str, dict[str, Any]] = {}
    rows = []
    for code, expected in sorted(reference.items()):
        as_of = expected["as_of"]
        if as_of not in by_as_of:
            by_as_of[as_of] = mart_figures(engine, year, date.fromisoformat(as_of), region=region)
        value = by_as_of[as_of].get(code)
        shown = expected.get("value", expected.get("range"))
        rows.append((code, shown, value, as_of, matches(expected, value)))
    return rows


@app.command()
def demo(
    year: Annotated[int, typer.Option(help="Year of the demo exports")] = 2024,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo landing area is written")
    ] = Path("var/demo"),
    seed: Annotated[int | None, typer.Option(help="Random seed of the generator")] = None,
    formats: Annotated[str, typer.Option("--format", help="Report formats")] = "md,docx,html",
) -> None:
    """Generate a year of demo exports and run them as `bureau-stats run` does (load, refresh
    the metrics mart, render the report), then check the figures against the published ones."""
    from bureau_stats.settings import DEVELOPMENT_PII_KEY, load_settings

    console = Console(stderr=True)
    if not os.environ.get("BUREAU_STATS_PII_KEY"):
        os.environ["BUREAU_STATS_PII_KEY"] = DEVELOPMENT_PII_KEY
        console.print(
            "[yellow]BUREAU_STATS_PII_KEY is not set: the demo uses the built-in development key. "
            "Never use it for real data.[/]"
        )
    landing = directory / "landing"
    settings = load_settings(landing=str(landing))
    started = time.perf_counter()

    console.rule(f"1/4 generate the {year} demo exports into {landing}")
    from demo_data import DEFAULT_SEED, generate

    summary = generate(year=year, out_dir=landing, seed=DEFAULT_SEED if seed is None else seed)
    console.print(f"{len(summary.get('files', []))} files written")

    console.rule(f"2/4 run: load them into {settings.resolved_warehouse_url()}, refresh, render")
    from flows.run import ingest
    from report.render import parse_formats
    from tasks.context import warehouse

    run = ingest(settings, build_docs=True, refresh=True, formats=parse_formats(formats))
    engine = warehouse(settings)
    counts = ", ".join(
        f"{run.count(s)} {s}"
        for s in ("published", "superseded", "skipped", "quarantined", "failed")
        if run.count(s)
    )
    console.print(f"{len(run.outcomes)} files: {counts}")
    for o in run.outcomes:
        if o.status in ("quarantined", "failed"):
            console.print(f"  [red]{o.status}[/] {o.file}: {o.reason or ''} {o.detail or ''}")

    console.rule("3/4 compare with the published report")
    checked = compare_with_reference(engine, year, settings.region)
    if checked:
        table = Table("metric", "published", "computed", "as of", "")
        for code, shown, value, as_of, ok in checked:
            table.add_row(code, str(shown), str(value), as_of, "[green]✓[/]" if ok else "[red]✗[/]")
        console.print(table)
        matched = sum(ok for *_, ok in checked)
        colour = "green" if matched == len(checked) else "red"
        console.print(f"[{colour}]{matched}/{len(checked)} published figures reproduced exactly[/]")
    else:
        console.print(f"no published report for {year} to compare with")

    console.rule("4/4 the report the run rendered")
    written = run.reports or [  # nothing new published: the report of an earlier run stands
        str(p) for p in sorted(settings.resolved_reports_dir().glob(f"report_{year}.*"))
    ]
    for path in written:
        console.print(f"  {path}")
    console.print(
        f"done in {time.perf_counter() - started:.0f} s. Data Docs: "
        f"{settings.resolved_data_docs_dir() / 'index.html'}; try `.venv/bin/bureau-stats status`."
    )
    if not run.ok or (checked and not all(ok for *_, ok in checked)):
        sys.exit(EXIT_QUARANTINE)
