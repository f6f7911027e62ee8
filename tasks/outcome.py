"""What a flow run did, file by file: the flows' result and the source of the operator's view.

`RunResult` has the interface of `bureau_stats.pipeline.RunSummary` (outcomes, ignored,
count(), ok, exit_code, to_dict()) so `bureau-stats run` prints a flow run exactly like a plain
`ingest`; it adds what only a flow run has (the refreshed years, reports, Data Docs).
Small and picklable on purpose: an outcome is the persisted result of the per-file task (a
retried flow run reads it back instead of redoing the file) and crosses process boundaries
under Dask. Nothing in it is personal data: counts, reason codes, the pipeline's detail (which
never quotes a cell) and a few rejected rows as the reject store keeps them (masked, hashed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

# Statuses of a file in a run (those of bureau_stats.pipeline.FileOutcome).
OK_STATUSES = ("published", "superseded", "skipped")
PUBLISHED_STATUSES = ("published", "superseded")

# Rejected rows carried per file into the run's artifact (all of them are in the reject store).
REJECTS_SAMPLE = 20


@dataclass
class FileOutcome:
    """One file in one run."""

    file: str  # relative path in the landing area
    source: str
    status: str  # published | superseded | quarantined | skipped | failed
    sha256: str | None = None
    delivery_order: int | None = None
    reason: str | None = None
    detail: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    seconds: float = 0.0
    action: str = "publish"  # the planned action (tasks.plan.ACTIONS)
    rejects: list[dict[str, Any]] = field(default_factory=list)  # masked sample

    @property
    def accounting_closes(self) -> bool:
        return self.rows_read == self.rows_accepted + self.rows_rejected + self.rows_duplicate

    def row(self) -> dict[str, Any]:
        """The file's line in the accounting table artifact."""
        return {
            "file": self.file,
            "source": self.source,
            "action": self.action,
            "status": self.status,
            "delivery_order": self.delivery_order,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "rows_duplicate": self.rows_duplicate,
            "reason": self.reason or "",
        }


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
            "files": [
                {k: v for k, v in asdict(o).items() if k != "rejects"} for o in self.outcomes
            ],
            "ignored": [asdict(i) for i in self.ignored],
            "refreshed_years": list(self.refreshed_years),
            "reports": list(self.reports),
            "data_docs": self.data_docs,
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
