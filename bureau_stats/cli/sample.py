"""`bureau-stats generate-sample`: write a year of demo exports into a landing folder."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bureau_stats.cli.app import EXIT_USAGE, app


@app.command("generate-sample")
def generate_sample(
    out: Annotated[Path, typer.Option("--out", help="Landing folder to write into")],
    year: Annotated[int, typer.Option(help="Calendar year of the exports")] = 2024,
    seed: Annotated[
        int | None, typer.Option(help="Random seed (same seed -> same bytes) [default: 2024]")
    ] = None,
    scale: Annotated[float, typer.Option(help="Row-count multiplier (100 = a province)")] = 1.0,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this source (repeatable)")
    ] = None,
    profile: Annotated[
        str,
        typer.Option(help="Volume profile: demo (calibrated) or workbook-heavy (a benchmark)"),
    ] = "demo",
    show_plan: Annotated[
        bool, typer.Option("--show-plan", help="Print the calibration plan and expected figures")
    ] = False,
    summary_json: Annotated[
        Path | None, typer.Option("--summary-json", help="Also write the summary as JSON here")
    ] = None,
) -> None:
    """Generate a full year of exports for the nine sources, with every quirk the contract allows.

    At --year 2024 --scale 1 the accepted rows reproduce every figure of the 2024 annual report.
    """
    from demo_data import DEFAULT_SEED, build_plan, expected_metrics, generate
    from demo_data.plan import plan_table
    from demo_data.profiles import PROFILES

    if scale <= 0:
        print("error: --scale must be positive", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    console = Console(stderr=True)
    if profile not in PROFILES:
        print(
            f"error: unknown --profile {profile!r}; known: {', '.join(PROFILES)}", file=sys.stderr
        )
        raise typer.Exit(EXIT_USAGE)
    if show_plan:
        plan = build_plan(year, scale, profile)
        wide = Console()
        if not wide.is_terminal:
            wide = Console(width=200)
        _print_plan(wide, plan_table(plan), expected_metrics(plan))
        return
    seed = DEFAULT_SEED if seed is None else seed
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]generate-sample[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def tick(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=path)

        try:
            summary = generate(
                year, out, seed=seed, scale=scale, progress=tick, sources=source, profile=profile
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE) from None
    elapsed = time.perf_counter() - started
    if summary_json is not None:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    shape = "" if profile == "demo" else f", profile {profile}"
    table = Table(title=f"{out} — {year}, seed {seed}, scale {scale:g}{shape}")
    for col in ("source", "files", "rows read", "accepted", "rejected", "duplicate", "current"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for code, s in summary["sources"].items():
        table.add_row(
            code,
            str(s["files"]),
            f"{s['rows_read']:,}",
            f"{s['rows_accepted']:,}",
            str(s["rows_rejected"]),
            str(s["rows_duplicate"]),
            f"{s['rows_current']:,}",
        )
    Console().print(table)
    note = "calibrated to the 2024 report" if summary["calibrated"] else "not calibrated"
    Console().print(
        f"{len(summary['files'])} files, {summary['rows_total']:,} rows in {elapsed:.1f} s ({note})"
    )


def _print_plan(console: Console, table: object, metrics: Mapping[str, object]) -> None:
    import pandas as pd

    assert isinstance(table, pd.DataFrame)
    t = Table(title="counted rows per source and month")
    t.add_column("source")
    for c in table.columns:
        t.add_column(str(c), justify="right")
    for code, row in table.iterrows():
        t.add_row(str(code), *(f"{int(v):,}" for v in row))
    console.print(t)
    m = Table(title="figures the plan implies")
    m.add_column("metric")
    m.add_column("value", justify="right")
    for k, v in metrics.items():
        m.add_row(k, str(v))
    console.print(m)
