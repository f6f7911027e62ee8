"""The operator's commands without Prefect: run names, source names, refusal line (issue 21)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from typer.testing import CliRunner


def _cli(*args: str) -> object:
    from bureau_stats.cli import load_commands
    from bureau_stats.cli.app import app

    load_commands()
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))


def test_backfill_refuses_an_unknown_source_with_the_valid_names() -> None:
    from connectors.sources import SOURCES

    for option in ("--sources", "--source"):
        result: object = _cli(
            "backfill", "--start", "2024-03-01", "--end", "2024-03-31", option, "registratoin"
        )
        assert result.exit_code == 2  # type: ignore[attr-defined]
        err = result.stderr  # type: ignore[attr-defined]
        assert "registratoin" in err and all(name in err for name in SOURCES)
        assert "Traceback" not in err


def test_sources_comma_separated_or_repeated() -> None:
    from bureau_stats.cli.operate import _check_sources

    assert _check_sources(["registration,cases", "cases"]) == ["registration", "cases"]
    assert _check_sources(None) is None


def test_run_names() -> None:
    from flows.run_names import annual_report_name, backfill_name, nightly_name

    assert nightly_name(date(2026, 12, 6)) == "nightly 2026-12-06"
    params = {"start": date(2024, 3, 1), "end": date(2024, 4, 30), "sources": ["registration"]}
    assert backfill_name(params) == "backfill 2024-03-01..2024-04-30 [registration]"
    assert backfill_name({**params, "sources": None}) == "backfill 2024-03-01..2024-04-30 [all]"
    both = {**params, "sources": ["registration", "cases"], "force": True, "dry_run": True}
    assert backfill_name(both) == (
        "backfill 2024-03-01..2024-04-30 [registration, cases] force (dry run)"
    )
    assert annual_report_name({"year": 2024}) == "annual-report 2024"
    assert annual_report_name({"year": 2024, "as_of": "2024-06-30"}) == (
        "annual-report 2024 as of 2024-06-30"
    )


def test_bureau_date_is_shanghais() -> None:
    from unittest import mock

    import connectors.cadence as names

    late_evening_utc = datetime(2026, 12, 5, 17, 30, tzinfo=UTC)  # 01:30 on the 6th in Shanghai

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return late_evening_utc.astimezone(tz)  # type: ignore[arg-type]

    with mock.patch.object(names, "datetime", Frozen):
        assert names.bureau_today() == date(2026, 12, 6)


def test_refusal_is_one_line_with_holder_time_and_wait() -> None:
    from bureau_stats.cli.operate import refusal_line
    from tasks.locks import SourcesBusy

    exc = SourcesBusy("registration", "abc@host:1", datetime(2026, 12, 6, 22, 0, tzinfo=UTC))
    line = refusal_line(exc)
    assert "\n" not in line
    assert "'registration'" in line and "abc@host:1" in line
    assert "since 2026-12-07T06:00:00+08:00" in line and "--wait" in line
