"""What a flow run did, file by file: the flows' result and the source of the operator's view.

`RunResult` has the interface of `bureau_stats.pipeline.RunSummary` (outcomes, ignored,
count(), ok, exit_code, to_dict()) so `bureau-stats run` prints a flow run exactly like a plain
`ingest`; it adds what only a flow run has (the refreshed years, reports, Data Docs).
Its outcomes are `bureau_stats.outcome.FileOutcome`, the pipeline's own (re-exported here).
Small and picklable on purpose: it crosses process boundaries under Dask, and nothing in it is
personal data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bureau_stats.outcome import OK_STATUSES, PUBLISHED_STATUSES, FileOutcome

__all__ = [
    "OK_STATUSES",
    "PUBLISHED_STATUSES",
    "REJECTS_SAMPLE",
    "FileOutcome",
    "Ignored",
    "RunFailed",
    "RunResult",
]

# Rejected rows carried per file into the run's artifact (all of them are in the reject store).
REJECTS_SAMPLE = 20


@dataclass
class Ignored:
    """A landing file that is not a delivery (as pipeline.IgnoredEntry)."""

    file: str
    why: str


@dataclass
class RunResult:
    """A nightly or backfill flow run; `ok` is False when a file was quarantined or failed."""

    flow: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    files_seen: int = 0
    ignored: list[Ignored] = field(default_factory=list)
    refreshed_years: list[int] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    data_docs: str | None = None
    overdue: list[Any] = field(default_factory=list)  # connectors.cadence.Overdue (nightly)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None

    def by_status(self, *statuses: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status in statuses]

    def count(self, status: str) -> int:
        return len(self.by_status(status))

    @property
    def published(self) -> list[FileOutcome]:
        return self.by_status(*PUBLISHED_STATUSES)

    @property
    def quarantined(self) -> list[FileOutcome]:
        return self.by_status("quarantined")

    @property
    def failed(self) -> list[FileOutcome]:
        return self.by_status("failed")

    @property
    def skipped(self) -> list[FileOutcome]:
        return self.by_status("skipped")

    @property
    def ok(self) -> bool:
        return all(o.status in OK_STATUSES for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 when every file was published or skipped, 1 otherwise (EXIT_QUARANTINE)."""
        return 0 if self.ok else 1

    def headline(self) -> str:
        return (
            f"{self.flow}: {self.files_seen} file(s) seen, {len(self.published)} published, "
            f"{len(self.skipped)} skipped, {len(self.quarantined)} quarantined, "
            f"{len(self.failed)} failed"
        )

    def failure_message(self) -> str:
        """The flow run's state message when it ends Failed: every file that did not publish."""
        lines = [self.headline()]
        for o in self.quarantined:
            lines.append(f"quarantined {o.file}: {o.reason} ({o.detail or 'no detail'})")
        for o in self.failed:
            lines.append(f"failed {o.file}: {o.reason or 'error'} ({o.detail or 'no detail'})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """`bureau-stats run --json`: the pipeline's document plus what the flow refreshed."""
        return {
            "flow": self.flow,
            "files": [o.to_dict() for o in self.outcomes],
            "ignored": [asdict(i) for i in self.ignored],
            "refreshed_years": list(self.refreshed_years),
            "reports": list(self.reports),
            "data_docs": self.data_docs,
            "overdue": [o.to_dict() for o in self.overdue],
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": self.finished_at.isoformat(timespec="seconds")
            if self.finished_at
            else None,
        }


class RunFailed(Exception):
    """Raised by calling a flow whose run ended Failed; `.result` is what it did."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(result.failure_message())
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunFailed, (self.result,))
