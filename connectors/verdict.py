"""The quarantine verdict of one delivered file (sources.md rule 6), decided here only.

The reader, the pipeline (whether to audit) and the publisher all ask this module; the
reject-threshold default lives here too, so the settings, the suites and the reader agree.
Pure: no IO, no settings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the settings import this module: it stays light
    from connectors.batch import ExtractedBatch

# Share of a file's rows that may be rejected before the whole file is quarantined.
DEFAULT_REJECT_THRESHOLD = Decimal("0.05")


class AuditResult(Protocol):
    """What the verdict needs of an expectation-suite outcome (expectations.audit)."""

    @property
    def success(self) -> bool: ...

    @property
    def failures(self) -> list[str]: ...


def reject_share_detail(
    rows_rejected: int, rows_read: int, threshold: Decimal = DEFAULT_REJECT_THRESHOLD
) -> str | None:
    """Why a file with this many rejected rows is quarantined, or None when it is not."""
    if not rows_read or Decimal(rows_rejected) / Decimal(rows_read) <= Decimal(threshold):
        return None
    return (
        f"{rows_rejected} of {rows_read} rows rejected, above the "
        f"{(Decimal(threshold) * 100).normalize():f} % threshold"
    )


def batch_verdict(
    batch: ExtractedBatch,
    threshold: Decimal = DEFAULT_REJECT_THRESHOLD,
    audit: AuditResult | None = None,
) -> tuple[str | None, str | None]:
    """(reason, detail) when the file must be quarantined (rule 6), else (None, None)."""
    if batch.verdict == "quarantine":
        return batch.reason or "unreadable", batch.detail
    if batch.rows_read == 0:
        return "empty", "the file holds no data rows"
    share = reject_share_detail(batch.rows_rejected, batch.rows_read, threshold)
    if share is not None:
        return "reject_share", share
    if not batch.accounting_closes:
        return "suite_failed", (
            f"row accounting does not close: read {batch.rows_read} != accepted "
            f"{batch.rows_accepted} + rejected {batch.rows_rejected} + duplicate "
            f"{batch.rows_duplicate}"
        )
    if audit is not None and not audit.success:
        return "suite_failed", "; ".join(audit.failures)[:2000] or "expectation suite failed"
    return None, None


def needs_audit(batch: ExtractedBatch, threshold: Decimal = DEFAULT_REJECT_THRESHOLD) -> bool:
    """Only a batch that would otherwise be published is worth validating."""
    return batch_verdict(batch, threshold)[0] is None
