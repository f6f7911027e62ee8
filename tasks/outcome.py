"""What processing one file produced, as the flows and the operator's view need it.

Small and picklable on purpose: it is the persisted result of the per-file task (a retried flow
run reads it back instead of redoing the file), it crosses process boundaries under Dask, and it
feeds the run's artifacts. It never holds personal data: counts, reason codes, the connector's
human-readable detail (which never quotes a cell) and a few rejected rows already masked and
hashed by the connector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# How a file ended in this run.
OUTCOME_STATUSES = ("published", "quarantined", "skipped", "failed")

# Rejected rows carried per file into the run's artifact (all of them are in the reject store).
REJECTS_SAMPLE = 20


@dataclass
class FileOutcome:
    """One file in one run."""

    source: str
    file: str  # relative path in the landing area
    action: str  # the planned action (publish / republish / revalidate / skip / missing)
    status: str  # one of OUTCOME_STATUSES
    reason: str | None = None  # reason code when quarantined, exception type when failed
    detail: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    delivery_order: int | None = None
    seconds: float = 0.0
    rejects: list[dict[str, Any]] = field(default_factory=list)  # masked sample
    warnings: list[str] = field(default_factory=list)

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
class RunResult:
    """What a nightly or backfill flow run did; `ok` is False when any file was not published."""

    flow: str
    outcomes: list[FileOutcome]
    files_seen: int
    refreshed_years: list[int] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    data_docs: str | None = None
    ignored: list[str] = field(default_factory=list)

    def by_status(self, status: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def published(self) -> list[FileOutcome]:
        return self.by_status("published")

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
        return not self.quarantined and not self.failed

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
            lines.append(f"{o.status} {o.file}: {o.reason} ({o.detail or 'no detail'})")
        return "\n".join(lines)
