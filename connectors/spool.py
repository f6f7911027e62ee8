"""Accepted rows spilled to disk (Arrow IPC), so no stage holds a whole large file in memory.

The connector writes each block's accepted rows as it goes; the audit and the publish read
them back a bounded number of rows at a time. A spooled file crosses from the reader process
to the main process as its path, not as pickled rows. The rows are the canonical, already
protected form (identifiers hashed, names masked): what the warehouse itself stores. Spool
folders are private to their run (mode 0700) and removed when it ends; a killed run's folder
is removed by the next run (`sweep`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

BATCH_ROWS = 65_536  # rows per record batch in a spool file (what a reader loads at once)
RUN_PREFIX = "run-"


@dataclass(frozen=True)
class SpooledRows:
    """A source's accepted rows in an Arrow IPC file; pickles as its path."""

    path: str
    num_rows: int
    schema: pa.Schema

    def __len__(self) -> int:
        return self.num_rows

    def chunks(self, rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
        """The rows in file order, about `rows` at a time (whole record batches)."""
        with pa.OSFile(self.path, "rb") as fp:
            reader = pa.ipc.open_file(fp)
            pending: list[pa.RecordBatch] = []
            count = 0
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                pending.append(batch)
                count += batch.num_rows
                if count >= rows:
                    yield pa.Table.from_batches(pending, schema=self.schema)
                    pending, count = [], 0
            if pending:
                yield pa.Table.from_batches(pending, schema=self.schema)

    def read_all(self) -> pa.Table:
        """Every row in memory (tests, small files)."""
        with pa.OSFile(self.path, "rb") as fp:
            return pa.ipc.open_file(fp).read_all()

    def columns(self, names: list[str]) -> pa.Table:
        """Only some columns, every row (a file-wide check on one column). Read through a
        memory map and copied out: only those columns' pages are read, and no column keeps
        its whole record batch alive."""
        parts: dict[str, list[pa.Array]] = {n: [] for n in names}
        with pa.memory_map(self.path) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                for name in names:
                    parts[name].append(batch.column(name))
            columns = [
                pa.concat_arrays(parts[n]) if parts[n] else pa.array([], self.schema.field(n).type)
                for n in names
            ]
        return pa.table(columns, names=names)

    def discard(self) -> None:
        Path(self.path).unlink(missing_ok=True)


def chunks(
    rows: pa.Table | pd.DataFrame | SpooledRows, size: int
) -> Iterator[pa.Table | pd.DataFrame]:
    """Accepted rows of any form, at most about `size` rows at a time (at least one chunk)."""
    if isinstance(rows, SpooledRows):
        any_chunk = False
        for chunk in rows.chunks(size):
            any_chunk = True
            yield chunk
        if not any_chunk:
            yield rows.schema.empty_table()
        return
    if len(rows) <= size:
        yield rows
        return
    for start in range(0, len(rows), size):
        yield (
            rows.slice(start, size)
            if isinstance(rows, pa.Table)
            else rows.iloc[start : start + size]
        )


def in_memory(rows: pa.Table | pd.DataFrame | SpooledRows) -> pa.Table | pd.DataFrame:
    return rows.read_all() if isinstance(rows, SpooledRows) else rows


class SpoolWriter:
    """Writes a file's accepted rows block by block; `finish` drops the rows found, once the
    whole file was seen, to be duplicates or conflicting keys."""

    def __init__(self, folder: Path, schema: pa.Schema) -> None:
        self._schema = schema
        self._path = Path(folder) / f"{uuid.uuid4().hex}.arrow"
        self._part = self._path.with_suffix(".part")
        self._sink = pa.OSFile(str(self._part), "wb")
        self._writer = pa.ipc.new_file(self._sink, schema)
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table, max_chunksize=BATCH_ROWS)
            self._rows += table.num_rows

    def _close(self) -> None:
        if not self._sink.closed:
            self._writer.close()
            self._sink.close()

    def finish(self, keep: np.ndarray | None = None) -> SpooledRows:
        """The spooled rows; `keep` (one flag per written row) filters them in a second pass."""
        self._close()
        if keep is None or keep.all():
            os.replace(self._part, self._path)
            return SpooledRows(str(self._path), self._rows, self._schema)
        written = SpooledRows(str(self._part), self._rows, self._schema)
        kept = 0
        with pa.OSFile(str(self._path), "wb") as sink, pa.ipc.new_file(sink, self._schema) as out:
            at = 0
            for chunk in written.chunks():
                mask = keep[at : at + chunk.num_rows]
                at += chunk.num_rows
                part = chunk.filter(pa.array(mask))
                out.write_table(part, max_chunksize=BATCH_ROWS)
                kept += part.num_rows
        written.discard()
        return SpooledRows(str(self._path), kept, self._schema)

    def abort(self) -> None:
        """Nothing of this file is kept (it is re-read another way, or failed)."""
        try:
            self._close()
        finally:
            self._part.unlink(missing_ok=True)
            self._path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(root: Path) -> int:
    """Remove the spool folders of runs that no longer exist (killed); returns how many."""
    removed = 0
    if not root.is_dir():
        return 0
    for entry in root.iterdir():
        if not entry.name.startswith(RUN_PREFIX):
            continue
        try:
            pid = int(entry.name[len(RUN_PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def run_folder(root: Path) -> Path:
    """A new private spool folder for this run (`run-<pid>-<random>`)."""
    root.mkdir(parents=True, exist_ok=True)
    sweep(root)
    return Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-", dir=root))


@contextmanager
def spooling(root: Path) -> Iterator[Path]:
    """A private spool folder for the duration of a run, removed afterwards."""
    folder = run_folder(root)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
