"""`bureau-stats template manual`: the empty workbook the offices fill in for the `manual`
source (the figures no export holds), laid out as the source declares it, so a filled copy
loads without edits.

Exit codes: 0 written, 2 usage error (the file exists, or its folder does not).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bureau_stats.cli.app import EXIT_USAGE, app

template_app = typer.Typer(
    help="Empty workbooks for the sources people fill in by hand.", no_args_is_help=True
)
app.add_typer(template_app, name="template")


@template_app.command("manual")
def manual(
    year: Annotated[int, typer.Option(help="Calendar year the workbook reports")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Workbook to write [default: 手工填报指标_<year>.xlsx]"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
) -> None:
    """Write the empty workbook of the figures no export holds: one row per catalog figure of
    the `manual` source (code, label, unit written in; cut-off, value, evidence reference and
    who entered it to fill), a drop-down list of the codes, and how to fill it in row 1.

    Put the filled workbook in <landing>/manual/ under the name row 1 gives
    (手工填报指标_<year>.xlsx; a correction _v2 supersedes it)."""
    from report.manual_workbook import file_name, write_workbook

    if not 1900 <= year <= 2999:
        print(f"error: --year {year} is not a calendar year", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    path = out if out is not None else Path(file_name(year))
    if path.exists() and not force:
        print(f"error: {path} exists (use --force to overwrite)", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    if not path.parent.is_dir():
        print(f"error: folder {path.parent} does not exist", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    write_workbook(path, year)
    print(path)
