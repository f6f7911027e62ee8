"""The operator's view of a run: Prefect artifacts rendered from the run's file outcomes.

Pure rendering functions (tested without Prefect) and one task that creates the artifacts:
- `<flow>-summary` (Markdown): files seen, published, skipped, quarantined, failed, with reasons,
  and what was refreshed;
- `<flow>-accounting` (table): per-file row accounting, `rows_read = accepted + rejected +
  duplicate`;
- `<flow>-rejects` (Markdown): a sample of rejected rows per file, masked and hashed as stored;
- `data-docs` (link): the Great Expectations Data Docs of the validations.
Artifact keys may only hold lowercase letters, digits and dashes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prefect import task

from bureau_stats.outcome import FileOutcome, RunResult
from connectors.printable import for_markdown

REASON_HELP = {
    "unreadable": "the file cannot be read in its declared format",
    "encoding": "the text encoding cannot be decoded",
    "missing_column": "a column (or key) listed for the source is absent",
    "empty": "no data rows",
    "truncated": "the export declares more records than it holds",
    "reject_share": "too many rejected rows (above the threshold)",
    "suite_failed": "the Great Expectations suite failed",
    "too_large": "beyond the reader's bounds (workbook size, cells, memory or time)",
    "inconsistent": "the figures of the file contradict a consistency rule of its source",
}


def artifact_key(flow: str, part: str) -> str:
    return f"{flow}-{part}".lower().replace("_", "-")


def _cell(text: object) -> str:
    """A sender's name or cell in a Markdown table: printable, Markdown escaped."""
    return for_markdown(text)


def summary_markdown(result: RunResult, *, flow_run_id: str | None = None) -> str:
    """The run in a few lines an operator can act on."""
    verdict = "✅ all files published or unchanged" if result.ok else "❌ files need attention"
    lines = [
        f"# {result.flow} run{f' `{flow_run_id}`' if flow_run_id else ''}",
        "",
        verdict,
        "",
        "| files | count |",
        "|---|---:|",
        f"| seen | {result.files_seen} |",
        f"| published | {len(result.published)} |",
        f"| skipped (unchanged) | {len(result.skipped)} |",
        f"| quarantined | {len(result.quarantined)} |",
        f"| failed (retry the run) | {len(result.failed)} |",
    ]
    rows = sum(o.rows_read for o in result.outcomes)
    accepted = sum(o.rows_accepted for o in result.published)
    lines += ["", f"Rows read {rows}, published {accepted}."]
    if result.quarantined:
        lines += ["", "## Quarantined", "", "| file | reason | detail |", "|---|---|---|"]
        for o in result.quarantined:
            why = f"{o.reason} ({REASON_HELP.get(o.reason or '', 'see detail')})"
            lines.append(f"| {_cell(o.file)} | {_cell(why)} | {_cell(o.detail or '')} |")
        lines += [
            "",
            "None of a quarantined file's rows are published. See the `rejects` artifact or "
            "`bureau-stats rejects <file>`, have the source system re-export the period as "
            "`_v2`, and the next nightly run publishes it.",
        ]
    if result.failed:
        lines += [
            "",
            "## Failed (not data errors)",
            "",
            "| file | status | error |",
            "|---|---|---|",
        ]
        for o in result.failed:
            lines.append(f"| {_cell(o.file)} | {o.status} | {_cell(o.detail or o.reason or '')} |")
        lines += [
            "",
            "A failed file is not in the ledger as published; the next run (or a retry of "
            "this run) processes it again.",
        ]
    lines += warnings_section(result.outcomes)
    if result.flow == "nightly":
        lines += overdue_section(result.overdue)
    if result.ignored:
        lines += ["", f"Ignored in the landing area: {len(result.ignored)} file(s)."]
    if result.refreshed_years:
        years = ", ".join(str(y) for y in result.refreshed_years)
        lines += ["", f"Metrics refreshed for {years}."]
    if result.reports:
        lines += ["", "Reports:", ""] + [f"- `{r}`" for r in result.reports]
    return "\n".join(lines)


def warnings_section(outcomes: Iterable[FileOutcome]) -> list[str]:
    """Files published with warnings (future dates, year-to-date decreases, a single sheet
    read): file, rule and how many rows; the lines themselves are in the run's log."""
    from connectors.file_warnings import summarize

    rows = [(o.file, w) for o in outcomes for w in summarize(o.warnings)]
    if not rows:
        return []
    lines = [
        "",
        "## Warnings",
        "",
        "| file | rule | column | rows | what |",
        "|---|---|---|---:|---|",
    ]
    for file, w in rows:
        lines.append(
            f"| {_cell(file)} | {w.rule} | {_cell(w.column or '')} | "
            f"{'' if w.rows is None else w.rows} | {_cell(w.what)} |"
        )
    lines += ["", "A warning rejects nothing: the file is published. Details in the run's log."]
    return lines


def overdue_section(overdue: Iterable[Any], per_source: int = 12) -> list[str]:
    """Late and missing deliveries: each overdue period per source with its days overdue."""
    from connectors.cadence import by_source

    grouped = by_source(overdue)
    lines = ["", "## Late and missing deliveries", ""]
    if not grouped:
        return [*lines, "No delivery is overdue."]
    lines += ["| source | period | due | days overdue | |", "|---|---|---|---:|---|"]
    for source, periods in grouped.items():
        for o in periods[:per_source]:
            lines.append(f"| {source} | {o.period} | {o.due} | {o.days_overdue} | {o.why} |")
        if len(periods) > per_source:
            lines.append(f"| {source} | … {len(periods) - per_source} more | | | |")
    lines += [
        "",
        "Each source emitted a `bureau-stats.delivery.overdue` event; "
        "`bureau-stats status --late` lists the same.",
    ]
    return lines


def accounting_rows(outcomes: Iterable[FileOutcome]) -> list[dict[str, Any]]:
    """One row per file, in processing order."""
    return [o.row() for o in outcomes]


def rejects_markdown(outcomes: Iterable[FileOutcome]) -> str:
    """Rejected rows an operator can read: line, reason, column and the (masked) raw cells."""
    lines = ["# Rejected rows", ""]
    any_rows = False
    for o in outcomes:
        if not o.rejects:
            continue
        any_rows = True
        more = o.rows_rejected - len(o.rejects)
        lines += [
            f"## {_cell(o.file)}",
            "",
            f"{o.rows_rejected} rejected row(s)"
            + (f"; the first {len(o.rejects)} below" if more > 0 else "")
            + f". All of them: `bureau-stats rejects '{_cell(o.file)}'`.",
            "",
            "| line | reason | column | row (personal data masked) |",
            "|---:|---|---|---|",
        ]
        for r in o.rejects:
            raw = r.get("raw")
            raw_text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
            lines.append(
                f"| {r.get('line', '')} | {_cell(r.get('reason', ''))} | "
                f"{_cell(r.get('column') or '')} | {_cell(raw_text)} |"
            )
        lines.append("")
    if not any_rows:
        lines.append("No row was rejected in this run.")
    return "\n".join(lines)


def data_docs_link(data_docs_index: str | None, base_url: str | None = None) -> str | None:
    """Where an operator opens the Data Docs: the published URL if configured, else the file."""
    if base_url:
        return base_url
    if not data_docs_index:
        return None
    path = Path(data_docs_index)
    return (
        path.resolve().as_uri()
        if not data_docs_index.startswith(("http", "file:"))
        else data_docs_index
    )


@task(name="operator-view", task_run_name="operator view of the {result.flow} run")
def create_operator_view(result: RunResult, data_docs_url: str | None = None) -> dict[str, str]:
    """Create the run's artifacts; returns their keys."""
    from prefect.artifacts import (
        create_link_artifact,
        create_markdown_artifact,
        create_table_artifact,
    )
    from prefect.runtime import flow_run

    run_id = str(flow_run.id) if flow_run.id else None
    keys = {
        "summary": artifact_key(result.flow, "summary"),
        "accounting": artifact_key(result.flow, "accounting"),
        "rejects": artifact_key(result.flow, "rejects"),
    }
    create_markdown_artifact(
        summary_markdown(result, flow_run_id=run_id),
        key=keys["summary"],
        description=result.headline(),
    )
    create_table_artifact(
        accounting_rows(result.outcomes),
        key=keys["accounting"],
        description="Per-file row accounting: rows_read = accepted + rejected + duplicate",
    )
    create_markdown_artifact(
        rejects_markdown(result.outcomes),
        key=keys["rejects"],
        description="Rejected rows of this run (masked); all of them: bureau-stats rejects",
    )
    link = data_docs_link(result.data_docs, data_docs_url)
    if link:
        keys["data_docs"] = "data-docs"
        create_link_artifact(
            link,
            link_text="Great Expectations Data Docs",
            key="data-docs",
            description="Validation results of every audited file",
        )
    return keys
