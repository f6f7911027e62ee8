"""What a run did: `FileOutcome` per landing file, `Ignored` per landing file that is not a
delivery, and `RunResult` for the whole run (both executors, nightly and backfill alike).

The one owner of these types: the pipeline, the tasks, the flows and the CLI import them from
here. Small and picklable on purpose: it is the persisted result of the per-file
task (a retried flow run reads it back instead of redoing the file) and crosses process
boundaries under Dask, so this module imports nothing heavy. Nothing in it is personal data:
counts, reason codes, the pipeline's detail (which never quotes a cell) and, in a flow run, a
few rejected rows as the reject store keeps them (masked, hashed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.batch import LandingFile
    from warehouse.ledger import BatchRecord
    from warehouse.publish import PublishResult

# Statuses of a file in a run.
OK_STATUSES = ("published", "superseded", "skipped")
PUBLISHED_STATUSES = ("published", "superseded")


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
    warnings: list[str] = field(default_factory=list)  # e.g. year-to-date figures that fell
    # Flow runs only: the planned action (tasks.plan.ACTIONS; None in a plain `ingest`) and a
    # sample of the file's rejected rows for the run's artifact (masked and hashed as stored).
    action: str | None = None
    rejects: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def failed(cls, file: LandingFile, record: BatchRecord, detail: str) -> FileOutcome:
        """A registered delivery this run could not finish: it stays pending in the ledger."""
        return cls(
            file.relative,
            file.source,
            "failed",
            record.sha256,
            record.delivery_order,
            detail=detail,
        )

    @classmethod
    def unreadable(
        cls, file: LandingFile, error: OSError, action: str | None = None
    ) -> FileOutcome:
        """A file that could not even be hashed: never registered, so the next run tries again."""
        return cls(
            file.relative,
            file.source,
            "failed",
            detail=f"read error ({type(error).__name__}); the next run tries again",
            action=action,
        )

    @classmethod
    def from_result(cls, r: PublishResult, seconds: float) -> FileOutcome:
        return cls(
            file=r.file,
            source=r.source,
            status=r.status,
            sha256=r.sha256,
            delivery_order=r.delivery_order,
            reason=r.reason,
            detail=r.detail,
            rows_read=r.rows_read,
            rows_accepted=r.rows_accepted,
            rows_rejected=r.rows_rejected,
            rows_duplicate=r.rows_duplicate,
            seconds=round(seconds, 3),
        )

    @property
    def accounting_closes(self) -> bool:
        return self.rows_read == self.rows_accepted + self.rows_rejected + self.rows_duplicate

    def to_dict(self) -> dict[str, Any]:
        """The file in a run's JSON document (the rejected-row sample stays in the artifact)."""
        return {k: v for k, v in asdict(self).items() if k != "rejects"}

    def row(self) -> dict[str, Any]:
        """The file's line in the accounting table artifact."""
        return {
            "file": self.file,
            "source": self.source,
            "action": self.action or "",
            "status": self.status,
            "delivery_order": self.delivery_order,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "rows_duplicate": self.rows_duplicate,
            "reason": self.reason or "",
        }


# Rejected rows carried per file into the run's artifact (all of them are in the reject store).
REJECTS_SAMPLE = 20


@dataclass
class Ignored:
    """A landing file that is not a delivery, and why."""

    file: str
    why: str


@dataclass
class RunResult:
    """A nightly or backfill run, in either executor; `ok` is False when a file was
    quarantined or failed. Small and picklable: it is a flow run's result."""

    flow: str = "nightly"
    outcomes: list[FileOutcome] = field(default_factory=list)
    files_seen: int = 0
    ignored: list[Ignored] = field(default_factory=list)
    refreshed_years: list[int] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    data_docs: str | None = None
    overdue: list[Any] = field(default_factory=list)  # connectors.cadence.Overdue (nightly)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    read_seconds: float = 0.0  # spent in the reader (overlaps auditing and publishing)

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
