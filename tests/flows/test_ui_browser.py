"""Seen in a real browser: a nightly run through the served deployment on a small generated
year, then the system's headless Chromium (network off but loopback) opens the flow-run page,
its Artifacts tab and the artifacts' pages, and finds what the operator needs there: the
summary, the per-file accounting table and the warnings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flow_helpers import PrefectServer

from tools import ui_pages

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def _markdown_text(markdown: str) -> list[str]:
    """The cells and sentences of a Markdown artifact, as a browser shows them."""
    out = []
    for line in markdown.splitlines():
        line = line.strip()
        if not line or set(line) <= set("|-: "):
            continue
        for cell in line.strip("|").split("|") if line.startswith("|") else [line]:
            text = re.sub(r"^#+\s*|^- |`|\*\*", "", cell.strip()).replace("\\", "")
            if text:
                out.append(re.sub(r"\s+", " ", text))
    return out


def _page(url: str, showing: str) -> str:
    return ui_pages.read_page(url, showing)


def test_flow_run_page_shows_summary_accounting_and_warnings(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    served = ui_pages.served_nightly(prefect_server.api_url, tmp_path)
    run = served.flow_run
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert {"nightly-summary", "nightly-accounting", "nightly-rejects"} <= set(served.artifacts)

    # the flow-run page: its name, flow, deployment and final state
    page = _page(served.flow_run_url(), run["name"])
    for text in (run["name"], "nightly", "Completed", "Artifacts", "Logs"):
        assert text in page, text

    # its Artifacts tab lists the summary and the accounting with their descriptions
    tab = _page(served.artifacts_tab_url(), "nightly-accounting")
    for key in ("nightly-summary", "nightly-accounting", "nightly-rejects"):
        assert key in tab
        assert served.artifacts[key]["description"] in tab

    # the summary: every line of it (with its warnings section, if the run had warnings)
    summary = served.artifacts["nightly-summary"]["data"]
    expected = _markdown_text(summary)
    summary_page = _page(served.artifact_url("nightly-summary"), expected[-1])
    assert len(expected) > 10
    missing = [t for t in expected if t not in summary_page]
    assert not missing, (missing, summary_page[:3000])

    # the accounting table: each file with its numbers, which add up
    rows = json.loads(served.artifacts["nightly-accounting"]["data"])
    page = _page(served.artifact_url("nightly-accounting"), rows[-1]["file"])
    assert "rows_read" in page and "rows_rejected" in page and "rows_duplicate" in page
    assert len(rows) > 20
    for row in rows:
        read = (row["rows_read"], row["rows_accepted"], row["rows_rejected"], row["rows_duplicate"])
        assert read[0] == sum(read[1:])
        assert re.search(
            rf"{re.escape(row['file'])} \S+ \S+ \S+ \d+ {' '.join(map(str, read))}", page
        ), row

    # the warnings: rejected rows of the generated year, and the workbook read from another sheet
    page = _page(served.artifact_url("nightly-rejects"), "rejected row(s)")
    rejected = [r for r in rows if r["rows_rejected"]]
    assert rejected
    for row in rejected:
        assert f"{row['file']} {row['rows_rejected']} rejected row(s)" in page
    # The summary lists the file's warnings (issue 21 item 1), all of them on the page.
    assert "Warnings" in expected and "single_sheet" in expected
    assert re.search(rf"{re.escape(ui_pages.SHEET_RENAMED)} single_sheet", summary_page)
