"""Progress of a run as files finish: a Prefect progress artifact, and a Rich bar on a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any
from uuid import UUID

from bureau_stats.outcome import FileOutcome
from tasks.operator_view import artifact_key


class RunProgress:
    """Files done / total; rows per second on the terminal; percentage in the Prefect UI."""

    def __init__(self, flow: str, total: int, *, terminal: bool | None = None) -> None:
        self.flow = flow
        self.total = total
        self.done = 0
        self.rows = 0
        self.started = time.monotonic()
        self.percentages: list[float] = []
        self._artifact: UUID | None = None
        self._bar: Any = None
        self._bar_task: Any = None
        self._show_bar = sys.stderr.isatty() if terminal is None else terminal

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn(f"{self.flow}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TextColumn("{task.fields[rate]:>8.0f} rows/s"),
            TimeElapsedColumn(),
            console=Console(stderr=True),  # stdout stays for the command's output (--json)
            transient=False,
        )
        self._bar.start()
        self._bar_task = self._bar.add_task(self.flow, total=self.total, rate=0.0)

    @property
    def percent(self) -> float:
        return 100.0 if not self.total else round(100.0 * self.done / self.total, 1)

    def __enter__(self) -> RunProgress:
        self.start()
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.finish()
        else:
            self._stop_bar()

    def start(self) -> None:
        """The progress artifact at 0 % (100 % when there is nothing to do), the bar if shown."""
        from prefect.artifacts import create_progress_artifact

        self.started = time.monotonic()
        if self._show_bar and self.total and self._bar is None:
            self._start_bar()

        created = create_progress_artifact(
            self.percent,
            key=artifact_key(self.flow, "progress"),
            description=f"{self.flow}: {self.done} of {self.total} file(s) processed",
        )
        self._artifact = created if isinstance(created, UUID) else None
        self.percentages.append(self.percent)

    def advance(self, outcome: FileOutcome) -> None:
        self.done += 1
        self.rows += outcome.rows_read
        if self._bar is not None:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            self._bar.update(self._bar_task, advance=1, rate=self.rows / elapsed)
        self._publish()

    def _publish(self) -> None:
        if self._artifact is None:
            return
        from prefect.artifacts import update_progress_artifact

        update_progress_artifact(
            self._artifact,
            self.percent,
            description=f"{self.flow}: {self.done} of {self.total} file(s) processed",
        )
        self.percentages.append(self.percent)

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def finish(self) -> None:
        """The bar stops; the artifact ends at 100 %."""
        self._stop_bar()
        if self.done < self.total:
            self.done = self.total
            self._publish()
        elif self.percentages and self.percentages[-1] != 100.0:
            self._publish()
