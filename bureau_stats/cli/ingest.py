"""`bureau-stats run | status | rejects`: load the landing area, and read the batch ledger.

With `--json` exactly one JSON document goes to stdout; logs always go to stderr.
Exit codes: 0 every file published (or skipped), 1 some file quarantined or failed, 2 usage or
configuration error (one line on stderr, no traceback).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bureau_stats.cli.app import EXIT_OK, EXIT_USAGE, app
from connectors.printable import for_console as esc

WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        help="SQLAlchemy URL of the warehouse (default: BUREAU_STATS_WAREHOUSE_URL or sqlite:///var/warehouse.db)",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout")]


def _log_to_stderr(level: int) -> None:
    """Logs never mix with the JSON document or the table on stdout."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_bureau_stats", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._bureau_stats = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("alembic", "great_expectations", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_USAGE)


@contextmanager
def _usage_errors() -> Iterator[None]:
    """Configuration problems become one line on stderr and exit code 2."""
    from pydantic import ValidationError

    from bureau_stats.cli.preflight import settings_error
    from bureau_stats.settings import MissingSettingError
    from warehouse.engine import WarehouseError

    try:
        yield
    except (MissingSettingError, WarehouseError, ValidationError, FileNotFoundError) as exc:
        raise _fail(settings_error(exc) or str(exc)) from None


def _engine(warehouse: str | None) -> Any:
    from bureau_stats.settings import load_settings
    from warehouse.engine import open_warehouse

    return open_warehouse(load_settings(warehouse_url=warehouse).resolved_warehouse_url())


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _console() -> Console:
    """A wide console when stdout is not a terminal (logs, pipes), so file names stay whole."""
    interactive = sys.stdout.isatty()
    return Console(file=sys.stdout, width=None if interactive else 240, soft_wrap=False)


def _status_style(status: str) -> str:
    return {
        "published": "green",
        "superseded": "dim",
        "skipped": "dim",
        "quarantined": "bold red",
        "failed": "bold red",
    }.get(status, "")


@app.command()
def run(
    landing: Annotated[
        str | None,
        typer.Option(
            "--landing",
            help="Landing area: a folder or an fsspec URL (default: BUREAU_STATS_LANDING)",
        ),
    ] = None,
    warehouse: WarehouseOption = None,
    as_json: JsonOption = False,
    docs: Annotated[
        bool, typer.Option("--docs/--no-docs", help="Build Great Expectations Data Docs at the end")
    ] = True,
    flow: Annotated[
        bool | None,
        typer.Option(
            "--flow/--in-process",
            help="Run as the Prefect `nightly` flow (default when PREFECT_API_URL is set) or "
            "in this process without Prefect (default otherwise: no temporary server to start)",
        ),
    ] = None,
) -> None:
    """Load every new delivery of the landing area: audit, publish or quarantine each file,
    then refresh the metrics mart and re-render the report of the years published.

    With a Prefect server configured (PREFECT_API_URL) this is one run of the `nightly` flow,
    visible in the UI with its artifacts; without one, the same run (the same steps, the
    same refresh) executes in this process.
    """
    _log_to_stderr(logging.INFO)
    import os

    from bureau_stats.cli.preflight import preflight
    from flows.run import ingest

    use_flow = bool(os.environ.get("PREFECT_API_URL")) if flow is None else flow

    with _usage_errors():
        settings = preflight(landing, warehouse)
        root = str(landing or settings.landing)
        summary: Any
        try:
            if use_flow:
                from flows.nightly import run_nightly

                if warehouse:  # through the environment: flow parameters are stored server-side
                    os.environ["BUREAU_STATS_WAREHOUSE_URL"] = warehouse
                summary = run_nightly(landing=root, build_docs=docs)
            else:
                with _file_progress() as on_progress:
                    summary = ingest(
                        settings, root, build_docs=docs, refresh=True, on_progress=on_progress
                    )
        except FileNotFoundError as exc:
            raise _fail(str(exc)) from None
    if as_json:
        _print_json(summary.to_dict())
    else:
        table = Table(title=f"run over {root}", show_lines=False)
        for col, kw in (
            ("#", {"justify": "right"}),
            ("file", {}),
            ("status", {}),
            ("read", {"justify": "right"}),
            ("accepted", {"justify": "right"}),
            ("rejected", {"justify": "right"}),
            ("dup", {"justify": "right"}),
            ("reason", {}),
        ):
            table.add_column(col, **kw)  # type: ignore[arg-type]
        # Files already loaded are only counted: a nightly run lists what it did.
        shown = [o for o in summary.outcomes if o.status != "skipped"]
        for o in shown:
            table.add_row(
                str(o.delivery_order or ""),
                esc(o.file),
                f"[{_status_style(o.status)}]{o.status}[/]"
                if _status_style(o.status)
                else o.status,
                str(o.rows_read),
                str(o.rows_accepted),
                str(o.rows_rejected),
                str(o.rows_duplicate),
                esc(_reason(o.reason, o.detail)),
            )
        console = _console()
        if shown:
            console.print(table)
        for entry in summary.ignored:
            console.print(f"ignored {esc(entry.file)}: {esc(entry.why)}")
        for o in summary.outcomes:
            for warning in getattr(o, "warnings", ()):
                console.print(f"[yellow]warning[/] {esc(o.file)}: {esc(warning)}")
        counts = ", ".join(
            f"{summary.count(s)} {s}"
            for s in ("published", "superseded", "skipped", "quarantined", "failed")
            if summary.count(s)
        )
        for report in summary.reports:
            console.print(f"report {report}")
        console.print(
            f"{len(summary.outcomes)} files: {counts or 'nothing to do'}; {len(summary.ignored)} ignored"
        )
    raise typer.Exit(summary.exit_code)


@contextmanager
def _file_progress() -> Iterator[Callable[[int, int, Any], None] | None]:
    """A Rich progress bar on stderr when it is a terminal (files done / total, rows/s)."""
    if not sys.stderr.isatty():
        yield None
        return
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.perf_counter()
    rows = 0
    # Per-file INFO lines would tear the bar apart; the table at the end says the same.
    logging.getLogger().setLevel(logging.WARNING)
    with Progress(
        TextColumn("[bold]run[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]} {task.fields[file]}"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("files", total=None, rate="", file="")

        def update(done: int, total: int, outcome: Any) -> None:
            nonlocal rows
            if outcome is not None:
                rows += outcome.rows_read
            rate = f"{rows / max(time.perf_counter() - started, 1e-9):,.0f} rows/s"
            bar.update(
                task, completed=done, total=total, rate=rate, file=getattr(outcome, "file", "")
            )

        yield update


def _reason(reason: str | None, detail: str | None) -> str:
    """A quarantine's reason code with its detail beside it (`unreadable: BadZipFile …`)."""
    if reason and detail:
        return f"{reason}: {detail}"
    return reason or detail or ""


@app.command()
def status(
    as_json: JsonOption = False,
    source: Annotated[
        str | None, typer.Option("--source", help="Only this source, e.g. registration")
    ] = None,
    warehouse: WarehouseOption = None,
    late: Annotated[
        bool,
        typer.Option(
            "--late",
            help="Overdue periods per source instead (due by BUREAU_STATS_DELIVERY_DUE_DAY of "
            "the month after each period)",
        ),
    ] = False,
) -> None:
    """The batch ledger: every delivered file, its status and row accounting, oldest first.

    With --late: each source's overdue periods (late or missing deliveries) and days overdue.
    """
    _log_to_stderr(logging.WARNING)
    from connectors.sources import SOURCES
    from warehouse.delivery_warnings import ledger_with_warnings

    if source is not None and source not in SOURCES:
        raise _fail(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    with _usage_errors():
        engine = _engine(warehouse)
        if late:
            from bureau_stats.cli.late import show_late
            from bureau_stats.settings import load_settings

            show_late(engine, load_settings().delivery_due_day, source, as_json)
            engine.dispose()
            raise typer.Exit(EXIT_OK)
        batches = ledger_with_warnings(engine, source)
        engine.dispose()
    if as_json:
        _print_json({"batches": batches})
        raise typer.Exit(EXIT_OK)
    table = Table(title="batch ledger" + (f" ({source})" if source else ""))
    for col in (
        "#",
        "file",
        "status",
        "period",
        "v",
        "read",
        "accepted",
        "rejected",
        "dup",
        "reason",
        "first seen",
    ):
        table.add_column(
            col,
            justify="right" if col in ("#", "v", "read", "accepted", "rejected", "dup") else "left",
        )
    for b in batches:
        style = _status_style(b["status"])
        table.add_row(
            str(b["delivery_order"]),
            esc(b["file"]),
            f"[{style}]{b['status']}[/]" if style else b["status"],
            f"{b['period'][0]}..{b['period'][1]}",
            str(b["version"]),
            str(b["rows_read"]),
            str(b["rows_accepted"]),
            str(b["rows_rejected"]),
            str(b["rows_duplicate"]),
            esc(_reason(b["reason"], b.get("detail"))),
            b["first_seen_at"],
        )
    console = _console()
    console.print(table)
    for b in batches:
        for w in b["warnings"]:
            rows = f": {w['rows']} row(s)" if w["rows"] is not None else ""
            column = f" ({w['column']})" if w["column"] else ""
            console.print(f"[yellow]warning[/] {b['file']}: {w['rule']}{column}{rows}")
    by_status: dict[str, int] = {}
    for b in batches:
        by_status[b["status"]] = by_status.get(b["status"], 0) + 1
    console.print(
        ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "the ledger is empty"
    )


def _raw_text(raw: dict[str, Any], column: str | None, width: int = 120) -> str:
    """The raw cells, the offending one first, printable and markup-escaped."""
    from rich.markup import escape as rich_escape

    from connectors.printable import printable

    first = [k for k in raw if column and k in column.split("+")]
    text = "; ".join(
        f"{printable(k)}={printable(raw[k])}" for k in [*first, *(k for k in raw if k not in first)]
    )
    return rich_escape(text if len(text) <= width else text[: width - 1] + "…")


@app.command()
def rejects(
    file: Annotated[str, typer.Argument(help="File as in `status` (source/name) or its bare name")],
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rejected rows to show")] = 50,
    warehouse: WarehouseOption = None,
) -> None:
    """Rejected rows of a delivered file: line, reason code, column, raw values (masked)."""
    _log_to_stderr(logging.WARNING)
    from warehouse.status import count_rejects, find_deliveries, list_rejects

    with _usage_errors():
        engine = _engine(warehouse)
        deliveries = find_deliveries(engine, file)
        if not deliveries:
            engine.dispose()
            raise _fail(f"no delivery named {file!r} in the ledger (see `bureau-stats status`)")
        rows = list_rejects(engine, file, limit)
        total = count_rejects(engine, file)
        engine.dispose()
    for d in deliveries:
        d.pop("id", None)
    if as_json:
        _print_json(
            {
                "file": deliveries[0]["file"],
                "deliveries": deliveries,
                "total": total,
                "rejects": rows,
            }
        )
        raise typer.Exit(EXIT_OK)
    console = _console()
    table = Table(
        title=f"rejected rows of {esc(deliveries[0]['file'])} ({min(total, len(rows))} of {total})"
    )
    for col in ("#", "line", "reason", "column", "raw values"):
        table.add_column(col, justify="right" if col in ("#", "line") else "left", overflow="fold")
    for r in rows:
        table.add_row(
            str(r["delivery_order"]),
            str(r["line"]),
            esc(r["reason"]),
            esc(r["column"] or ""),
            _raw_text(r["raw"], r["column"]),
        )
    console.print(table)
    for d in deliveries:
        if d["status"] == "quarantined":
            why = esc(_reason(d["reason"], d.get("detail")))
            console.print(f"delivery {d['delivery_order']} is quarantined: {why}")


_COMMANDS: tuple[Callable[..., None], ...] = (run, status, rejects)
