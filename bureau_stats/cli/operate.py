"""`bureau-stats backfill` and `bureau-stats serve`: operating the Prefect flows.

Exit codes: 0 done (every file published or unchanged), 1 some file quarantined or failed,
2 usage or configuration error, 3 refused because another run holds a source's lock.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

import typer

from bureau_stats.cli.app import EXIT_OK, EXIT_USAGE, app

EXIT_BUSY = 3


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD", param_hint=option) from None


def _error(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _check_sources(sources: list[str] | None) -> list[str] | None:
    """The sources named (repeated options or comma-separated), all known, or None for all."""
    from connectors.sources import SOURCES

    names = [n.strip() for s in sources or () for n in s.split(",") if n.strip()]
    unknown = [s for s in names if s not in SOURCES]
    if unknown:
        raise _error(f"unknown source(s) {', '.join(unknown)}; valid names: {', '.join(SOURCES)}")
    return list(dict.fromkeys(names)) or None


def refusal_line(exc: Any) -> str:
    """A backfill refused by a lease, in one line: who holds the source, since when (bureau
    time), and how to queue behind it instead."""
    from warehouse.status import local_time

    since = getattr(exc, "since", None)
    when = f" since {local_time(since)}" if since else ""
    waited = getattr(exc, "waited", None)
    advice = (
        f"gave up after waiting {waited:g} s (BUREAU_STATS_LOCK_WAIT_SECONDS); if that run is "
        "gone its lease expires by itself, or `bureau-stats unlock SOURCE` releases it"
        if waited is not None
        else "wait for that run to finish, or run again with --wait to queue behind it"
    )
    return (
        f"backfill refused: source {getattr(exc, 'source', '?')!r} is held by "
        f"{getattr(exc, 'holder', '?')}{when}; {advice}"
    )


class _NoRefusalOnConsole(logging.Filter):
    """Keep Prefect's records of a refused run (the failed lock task and flow run, with their
    tracebacks) off the terminal: the command prints one line instead. The run's log in the
    Prefect UI keeps them (the filter sits on the console handlers only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from tasks.locks import SourcesBusy

        if record.exc_info and isinstance(record.exc_info[1], SourcesBusy):
            return False
        return "SourcesBusy" not in record.getMessage()


@contextmanager
def _refusal_off_console() -> Iterator[None]:
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = {
        h
        for lg in loggers
        if isinstance(lg, logging.Logger)
        for h in lg.handlers
        if isinstance(h, PrefectConsoleHandler)
    }
    quiet = _NoRefusalOnConsole()
    for h in handlers:
        h.addFilter(quiet)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(quiet)


def dry_run_plan(
    start: date,
    end: date,
    sources: list[str] | None,
    force: bool,
    landing: str | None = None,
) -> Any:
    """The backfill's plan, without Prefect and without writing: the same two steps the flow runs
    first (`survey_landing`, `build_backfill_plan`), called as plain functions."""
    from tasks.context import clean_overrides, dispose_engines
    from tasks.files import survey_landing
    from tasks.plan import build_backfill_plan

    try:
        survey = survey_landing.fn(clean_overrides(landing=landing), start, end, sources)
    finally:
        dispose_engines()
    for bad in survey.unreadable:
        print(f"warning: {bad.file}: {bad.detail}", file=sys.stderr)
    return build_backfill_plan(
        survey.ledger, survey.present, start=start, end=end, sources=sources, force=force
    )


@app.command()
def backfill(
    start: Annotated[str, typer.Option("--start", help="First day of the range, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--end", help="Last day of the range, YYYY-MM-DD")],
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            "--sources",
            help="Only these sources (repeat, or comma-separated); default all",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Re-validate and republish files already loaded (rules changed)"
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and exit; writes nothing")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Queue behind a run holding a source's lock instead of refusing"
        ),
    ] = False,
    max_parallel_sources: Annotated[
        int | None,
        typer.Option("--max-parallel-sources", min=1, help="Sources processed at once (default 2)"),
    ] = None,
    landing: Annotated[
        str | None, typer.Option("--landing", help="Landing area (default: BUREAU_STATS_LANDING)")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout")
    ] = False,
) -> None:
    """Re-process delivered files whose period intersects the range, in delivery order.

    Exit codes: 0 done, 1 a file quarantined or failed, 2 usage or configuration error,
    3 refused: another run holds a source it needs (--wait queues instead).
    """
    from bureau_stats.settings import MissingSettingError
    from connectors.printable import printable
    from tasks.plan import render_plan
    from warehouse.engine import WarehouseError

    first, last = _date(start, "--start"), _date(end, "--end")
    if last < first:
        raise _error(f"--end {last} is before --start {first}")
    sources = _check_sources(source)

    if dry_run:
        try:
            plan = dry_run_plan(first, last, sources, force, landing)
        except (MissingSettingError, WarehouseError, FileNotFoundError) as exc:
            raise _error(str(exc)) from None
        if as_json:
            print(json.dumps(plan.as_dict(), ensure_ascii=False, indent=2))
        else:
            print(render_plan(plan))
        raise typer.Exit(EXIT_OK)

    from bureau_stats.cli.preflight import preflight, settings_error
    from flows.backfill import run_backfill
    from tasks.locks import SourcesBusy

    try:  # configuration errors before the flow (and its temporary server) start
        preflight(landing)
    except Exception as exc:
        if (line := settings_error(exc)) is None:
            raise
        raise _error(line) from None
    try:
        with _refusal_off_console():
            result = run_backfill(
                start=first,
                end=last,
                sources=sources,
                force=force,
                wait=wait,
                max_parallel_sources=max_parallel_sources,
                landing=landing,
            )
    except SourcesBusy as exc:
        raise _error(refusal_line(exc), EXIT_BUSY) from None
    except (MissingSettingError, WarehouseError, FileNotFoundError) as exc:
        raise _error(str(exc)) from None
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        for o in result.outcomes:
            why = f"  {o.reason}" if o.reason else ""
            name = printable(o.file)
            print(f"{o.delivery_order or '-':>5}  {o.action:<10}  {o.status:<11}  {name}{why}")
        print(result.headline())
        if result.refreshed_years:
            print("metrics and report refreshed for " + ", ".join(map(str, result.refreshed_years)))
    raise typer.Exit(result.exit_code)


@app.command()
def serve(
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Flow runs executed at once (default: no limit)"),
    ] = None,
) -> None:
    """Serve the nightly, backfill and annual-report deployments from this process.

    Needs a Prefect server (PREFECT_API_URL, e.g. http://127.0.0.1:4200/api after
    `prefect server start`): the nightly run is scheduled at 02:00 Asia/Shanghai, backfills and
    reports run when triggered from the UI or `prefect deployment run`. Stop with Ctrl-C.
    """
    from prefect.settings import PREFECT_API_URL

    if not (os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()):
        print(
            "warning: PREFECT_API_URL is not set: serving against a temporary server that "
            "disappears with this process (no UI, schedules lost). Start `prefect server start` "
            "and export PREFECT_API_URL=http://127.0.0.1:4200/api.",
            file=sys.stderr,
        )
    import signal

    from flows.deployments import serve_all

    def _stop(*_: object) -> None:  # `docker stop` / systemd send SIGTERM: stop like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    serve_all(limit=limit)
