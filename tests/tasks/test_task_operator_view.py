"""What the operator reads: the run summary, per-file accounting, rejected rows."""

from __future__ import annotations

from pathlib import Path

from bureau_stats.outcome import FileOutcome, RunFailed, RunResult
from tasks.operator_view import (
    accounting_rows,
    artifact_key,
    data_docs_link,
    rejects_markdown,
    summary_markdown,
)


def outcome(file: str, status: str, **kw: object) -> FileOutcome:
    return FileOutcome(file=file, source=file.split("/")[0], status=status, **kw)  # type: ignore[arg-type]


def run() -> RunResult:
    return RunResult(
        flow="nightly",
        files_seen=4,
        outcomes=[
            outcome(
                "cases/a.xlsx",
                "published",
                rows_read=61,
                rows_accepted=60,
                rows_rejected=1,
                rejects=[
                    {
                        "line": 7,
                        "reason": "bad_date",
                        "column": "立案日期",
                        "raw": {"案件编号": "X1", "当事人名称": "张**"},
                    }
                ],
            ),
            outcome("cases/b.xlsx", "skipped", action="skip"),
            outcome(
                "registration/c.csv",
                "quarantined",
                reason="reject_share",
                rows_read=20,
                rows_accepted=10,
                rows_rejected=10,
                detail="10 of 20 rows rejected",
            ),
            outcome(
                "inspections/d.csv",
                "failed",
                reason="TransientFileError",
                detail="read error (OSError)",
            ),
        ],
        refreshed_years=[2024],
    )


def test_summary_counts_and_reasons() -> None:
    r = run()
    text = summary_markdown(r, flow_run_id="abc")
    assert "| seen | 4 |" in text and "| published | 1 |" in text
    assert "| skipped (unchanged) | 1 |" in text and "| quarantined | 1 |" in text
    assert "| failed (retry the run) | 1 |" in text
    assert "registration/c.csv | reject_share (too many rejected rows" in text
    assert "inspections/d.csv | failed | read error (OSError)" in text
    assert "Metrics refreshed for 2024." in text
    assert not r.ok and r.exit_code == 1
    assert r.failure_message().splitlines()[1:] == [
        "quarantined registration/c.csv: reject_share (10 of 20 rows rejected)",
        "failed inspections/d.csv: TransientFileError (read error (OSError))",
    ]


def test_accounting_table_has_one_closing_row_per_file() -> None:
    rows = accounting_rows(run().outcomes)
    assert [r["file"] for r in rows] == [
        "cases/a.xlsx",
        "cases/b.xlsx",
        "registration/c.csv",
        "inspections/d.csv",
    ]
    assert all(
        r["rows_read"] == r["rows_accepted"] + r["rows_rejected"] + r["rows_duplicate"]
        for r in rows
    )


def test_rejected_rows_are_shown_masked_with_where_to_find_all() -> None:
    text = rejects_markdown(run().outcomes)
    assert "## cases/a.xlsx" in text
    assert "| 7 | bad_date | 立案日期 |" in text and "张**" in text
    assert "bureau-stats rejects 'cases/a.xlsx'" in text
    assert rejects_markdown([]).endswith("No row was rejected in this run.")


def test_json_document_and_failure_are_plain_data() -> None:
    import pickle

    r = run()
    doc = r.to_dict()
    assert [f["status"] for f in doc["files"]] == ["published", "skipped", "quarantined", "failed"]
    assert "rejects" not in doc["files"][0]
    again = pickle.loads(pickle.dumps(RunFailed(r)))
    assert again.result.headline() == r.headline()


def test_artifact_keys_and_docs_link(tmp_path: Path) -> None:
    assert artifact_key("annual_report", "summary") == "annual-report-summary"
    index = tmp_path / "index.html"
    assert data_docs_link(str(index)) == index.resolve().as_uri()
    assert (
        data_docs_link(str(index), "http://docs:8080/data_docs/") == "http://docs:8080/data_docs/"
    )
    assert data_docs_link(None) is None


def test_summary_lists_warnings_by_rule_and_rows_never_the_values() -> None:
    result = run()
    result.outcomes.append(
        outcome(
            "ip_stats/m_202402.csv",
            "published",
            warnings=[
                "蓬江区 2024-02: 专利授权量(本年累计) fell from 83 to 80 (a year-to-date "
                "figure; kept, as a revision may lower it)",
                "江海区 2024-02: 专利授权量(本年累计) fell from 45 to 40 (a year-to-date "
                "figure; kept, as a revision may lower it)",
            ],
        )
    )
    text = summary_markdown(result)
    assert "## Warnings" in text
    assert "| ip_stats/m_202402.csv | ytd_decrease | 专利授权量(本年累计) | 2 |" in text
    assert "蓬江区" not in text and "83" not in text


def test_nightly_summary_has_the_late_deliveries_section() -> None:
    from datetime import date

    from connectors.cadence import Overdue

    result = run()
    assert "No delivery is overdue." in summary_markdown(result)
    result.overdue = [
        Overdue("registration", date(2024, 3, 1), date(2024, 3, 31), date(2024, 4, 10), 970, False),
        Overdue("ip_cases", date(2024, 4, 1), date(2024, 6, 30), date(2024, 7, 10), 879, True),
    ]
    text = summary_markdown(result)
    assert "| registration | 2024-03-01..2024-03-31 | 2024-04-10 | 970 | not delivered |" in text
    assert "| ip_cases | 2024-04-01..2024-06-30 | 2024-07-10 | 879 | only quarantined" in text
    result.flow = "backfill"  # a backfill does not look at lateness
    assert "Late and missing" not in summary_markdown(result)
