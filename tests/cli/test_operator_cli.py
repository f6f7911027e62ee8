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


def test_a_backfill_that_waited_in_vain_is_not_told_to_wait() -> None:
    from bureau_stats.cli.operate import refusal_line
    from tasks.locks import SourcesBusy

    exc = SourcesBusy("cases", "abc@host:1", datetime(2026, 12, 6, 22, 0, tzinfo=UTC), 1800.0)
    line = refusal_line(exc)
    assert "\n" not in line and "gave up after waiting 1800 s" in line
    assert "--wait" not in line and "bureau-stats unlock" in line


def _ledger_without(tmp_path: object, missing_month: int) -> str:
    """A SQLite warehouse whose ledger holds registration 2024 except one month."""
    from pathlib import Path

    from sqlalchemy import insert

    from warehouse.engine import open_warehouse
    from warehouse.schema import batch

    url = f"sqlite:///{Path(str(tmp_path)) / 'warehouse.db'}"
    engine = open_warehouse(url)
    rows = []
    for order, month in enumerate((m for m in range(1, 13) if m != missing_month), start=1):
        start = date(2024, month, 1)
        end = date(2024 + month // 12, month % 12 + 1, 1).toordinal() - 1
        rows.append(
            {
                "source": "registration",
                "file": f"registration/x_{month:02d}.csv",
                "name": f"x_{month:02d}.csv",
                "sha256": f"{order:064x}",
                "period_start": start,
                "period_end": date.fromordinal(end),
                "version": 1,
                "delivery_order": order,
                "status": "quarantined" if month == 7 else "published",
                "first_seen_at": datetime(2024, month, 2, tzinfo=UTC),
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(batch), rows)
    engine.dispose()
    return url


def test_status_late_lists_the_missing_and_the_quarantined_months(tmp_path: object) -> None:
    import json

    url = _ledger_without(tmp_path, missing_month=3)
    result: object = _cli("status", "--late", "--json", "--warehouse", url)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    doc = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert doc["due_day"] == 10
    assert [(o["source"], o["period"], o["quarantined_only"]) for o in doc["overdue"]] == [
        ("registration", ["2024-03-01", "2024-03-31"], False),
        ("registration", ["2024-07-01", "2024-07-31"], True),
    ]
    assert doc["overdue"][0]["due"] == "2024-04-10"
    shown: object = _cli("status", "--late", "--warehouse", url)
    out = shown.stdout  # type: ignore[attr-defined]
    assert "2024-03-01..2024-03-31" in out and "only quarantined files delivered" in out
    assert "2 period(s) overdue in 1 source(s): registration" in out
    other: object = _cli("status", "--late", "--source", "cases", "--warehouse", url)
    assert "no delivery overdue" in other.stdout  # type: ignore[attr-defined]


def test_the_due_day_is_a_setting(tmp_path: object, monkeypatch: object) -> None:
    import json

    url = _ledger_without(tmp_path, missing_month=3)
    monkeypatch.setenv("BUREAU_STATS_DELIVERY_DUE_DAY", "15")  # type: ignore[attr-defined]
    doc = json.loads(_cli("status", "--late", "--json", "--warehouse", url).stdout)  # type: ignore[attr-defined]
    assert doc["due_day"] == 15 and doc["overdue"][0]["due"] == "2024-04-15"
    monkeypatch.setenv("BUREAU_STATS_DELIVERY_DUE_DAY", "0")  # type: ignore[attr-defined]
    bad: object = _cli("status", "--late", "--warehouse", url)
    assert bad.exit_code == 2 and "DELIVERY_DUE_DAY" in bad.stderr.upper()  # type: ignore[attr-defined]
