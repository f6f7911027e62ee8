"""What a run did with one landing file: the one `FileOutcome` of the pipeline and the flows.

`bureau_stats.pipeline` (the plain run) and `tasks` (the Prefect flows) both build and return
it; `from bureau_stats.pipeline import FileOutcome` and `from tasks.outcome import FileOutcome`
name this class. Small and picklable on purpose: it is the persisted result of the per-file
task (a retried flow run reads it back instead of redoing the file) and crosses process
boundaries under Dask, so this module imports nothing heavy. Nothing in it is personal data:
counts, reason codes, the pipeline's detail (which never quotes a cell) and, in a flow run, a
few rejected rows as the reject store keeps them (masked, hashed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
