"""Artifacts show a sender's text as written (issue 25 item 3): a cell holding `|`, a link or
control characters cannot break the Markdown table or inject anything."""

from __future__ import annotations

import re

from bureau_stats.outcome import FileOutcome, RunResult
from tasks.operator_view import rejects_markdown, summary_markdown


def test_cells_and_details_are_escaped_in_markdown_artifacts() -> None:
    hostile = "甲|乙 [点击](http://x) <img src=x>\x1b[2J\n"
    result = RunResult(
        flow="nightly",
        files_seen=2,
        outcomes=[
            FileOutcome(
                file="cases/a.xlsx",
                source="cases",
                status="published",
                rows_read=2,
                rows_accepted=1,
                rows_rejected=1,
                rejects=[
                    {"line": 2, "reason": "bad_date", "column": "立案日期", "raw": {"x": hostile}}
                ],
            ),
            FileOutcome(
                file="cases/b.xlsx",
                source="cases",
                status="quarantined",
                reason="unreadable",
                detail=hostile,
            ),
        ],
    )
    for text in (rejects_markdown(result.outcomes), summary_markdown(result)):
        table_rows = [line for line in text.splitlines() if line.startswith("| ")]
        assert all("\x1b" not in line for line in text.splitlines())
        unescaped = re.compile(r"(?<!\\)(?:\]\(|<img)")  # a link or HTML not escaped
        assert not any(unescaped.search(line) for line in table_rows)
        assert any("甲\\|乙" in line for line in table_rows)
        assert any("\\x1b" in line or "\\\\u001b" in line for line in table_rows)
