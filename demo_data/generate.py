"""Generate a landing area: plan -> canonical rows -> quirks -> files.

`generate(year, out_dir, seed=…, scale=…)` writes every file of the plan and returns a summary
with, per file, the row accounting a correct connector must report (rows_read / accepted /
rejected / duplicate), and the figures the plan implies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from connectors.sources import MANUAL, SOURCES
from demo_data import quirks, writers
from demo_data.manual import write_manual
from demo_data.plan import FileSpec, Plan, build_plan, expected_metrics
from demo_data.profiles import DEFAULT_PROFILE
from demo_data.rows import BUILDERS, Ctx

DEFAULT_SEED = 2024
# Sources numbered across the year (case numbers, inspection record numbers).
YEAR_NUMBERED = ("cases", "inspections")
Progress = Callable[[int, int, str], None]

SE_REGION = "江门市蓬江区"
COLUMN_WIDTH = 18


def _rng(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, *parts])


def export_time(spec: FileSpec) -> datetime:
    """When the system produced the file: 02:00 after the period; corrections weeks later."""
    base = datetime(spec.end.year, spec.end.month, spec.end.day) + timedelta(days=1, hours=2)
    return base + timedelta(days=41, hours=8) if spec.version > 1 else base


def _sort_key(source: str, df: pd.DataFrame) -> np.ndarray:
    if source == "special_equipment":
        return np.where(df["decided_on"] >= 0, df["decided_on"], df["applied_on"])
    if source == "ip_stats":
        return np.arange(len(df))
    return df[SOURCES[source].partition_field].to_numpy()


def _dup_windows(ok: np.ndarray, k: int, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Pagination overlap: runs of up to 5 counted rows repeated right after themselves."""
    out: dict[int, np.ndarray] = {}
    n = len(ok)
    left = k
    tries = 0
    while left > 0 and tries < 1000:
        tries += 1
        w = min(left, int(rng.integers(1, 6)))
        if n < w:
            break
        end = int(rng.integers(w, n + 1))  # rows end-w .. end-1, copies inserted after end-1
        if end in out or not ok[end - w : end].all():
            continue
        out[end] = np.arange(end - w, end)
        left -= w
    return out


def _assemble(
    source: str, spec: FileSpec, canon: pd.DataFrame, rng: np.random.Generator, first_seq: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rows of the file in order (None rows are blank lines) and its expected accounting."""
    extras = quirks.reject_rows(source, canon, spec, rng, first_seq)
    full = pd.concat([canon.assign(_reason=""), extras.rows], ignore_index=True)
    rendered = quirks.render(source, full, spec, rng)
    quirks.apply_overrides(rendered, len(canon), extras.overrides)
    order = np.lexsort((rng.random(len(full)), _sort_key(source, full)))
    full = full.iloc[order].reset_index(drop=True)
    rendered = rendered.iloc[order].reset_index(drop=True)
    rendered["_reason"] = full["_reason"].to_numpy()

    ok = (full["_reason"] == "").to_numpy()
    windows = _dup_windows(ok, spec.duplicates, rng)
    dups = sum(len(v) for v in windows.values())
    # Assemble with numpy object arrays: pandas' concat would turn all-None pieces into NaN.
    cols = list(rendered.columns)
    pieces: dict[str, list[np.ndarray]] = {c: [] for c in cols}
    prev = 0
    fragile = [c.field for c in SOURCES[source].columns if c.type in quirks.FRAGILE_TYPES]
    for end in sorted(windows):
        idx = windows[end]
        again = quirks.render(source, full.iloc[idx].reset_index(drop=True), spec, rng)
        copy = {c: again[c].to_numpy(dtype=object) for c in again.columns}
        for f in fragile:
            copy[f] = rendered[f].to_numpy(dtype=object)[idx]
        copy["_reason"] = np.full(len(idx), "duplicate", dtype=object)
        for c in cols:
            pieces[c].append(rendered[c].to_numpy(dtype=object)[prev:end])
            pieces[c].append(copy[c])
        prev = end
    for c in cols:
        pieces[c].append(rendered[c].to_numpy(dtype=object)[prev:])
    rows = pd.DataFrame({c: np.concatenate(pieces[c]) for c in cols}, dtype=object)

    accounting = {
        "rows_read": len(full) + dups,
        "rows_accepted": len(canon),
        "rows_rejected": len(extras.rows),
        "rows_duplicate": dups,
        "reject_reasons": sorted(set(extras.rows["_reason"])),
        "blank_lines": spec.blank_lines,
    }
    return rows, accounting


def _blank_positions(n: int, k: int, rng: np.random.Generator) -> set[int]:
    if n == 0 or k == 0:
        return set()
    return set(rng.choice(np.arange(1, n + 1), size=min(k, n), replace=False).tolist())


def _write(
    source: str,
    spec: FileSpec,
    rows: pd.DataFrame,
    acc: dict[str, Any],
    out: Path,
    rng: np.random.Generator,
) -> Path:
    src = SOURCES[source]
    path = out / spec.relative
    fields = [c.field for c in src.columns]
    headers = [c.header for c in src.columns]
    blanks = _blank_positions(len(rows), spec.blank_lines, rng)
    if src.format == "csv":
        cols = [rows[f].to_numpy(dtype=object) for f in fields]
        lines = writers.csv_lines(cols)
        if blanks:
            lines = np.insert(lines, sorted(blanks), "")
        writers.write_csv(path, headers, lines, spec.encoding)
    elif src.format == "xlsx":
        values = rows[fields].to_numpy(dtype=object)

        def row_iter() -> Any:
            for i, r in enumerate(values):
                if i in blanks:
                    yield None
                yield list(r)

        created = export_time(spec)
        title = subtitle = footer = None
        if source == "food_license":
            title = f"{src.label}表"
            subtitle = (
                f"导出时间:{created:%Y-%m-%d %H:%M:%S}  "
                f"统计区间:{spec.start:%Y-%m-%d}至{spec.end:%Y-%m-%d}"
            )
        if spec.footer:
            footer = f"{'合计' if source == 'food_license' else '总计'}:{acc['rows_read']}条"
        writers.write_xlsx(
            path,
            src.sheet or "Sheet1",
            headers,
            row_iter(),
            created=created,
            title=title,
            subtitle=subtitle,
            footer=footer,
            widths=[COLUMN_WIDTH] * len(headers),
        )
    else:
        cols = [rows[f].to_numpy(dtype=object) for f in fields]
        missing = np.zeros((len(rows), len(fields)), dtype=bool)
        # Pending applications: the API sometimes omits the decision key instead of null.
        pending = np.isin(rows["status"].to_numpy(dtype=object), ["受理", "审核"])
        j = fields.index("decided_on")
        missing[:, j] = pending & (rng.random(len(rows)) < 0.3)
        records = writers.json_records(headers, cols, missing)
        head = {
            "exportTime": export_time(spec).strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "region": SE_REGION,
            "total": len(records),
        }
        writers.write_json(path, head, records, src.json_records)
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generate(
    year: int = 2024,
    out_dir: str | Path = "var/landing",
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
    progress: Progress | None = None,
    sources: list[str] | None = None,
    profile: str = DEFAULT_PROFILE,
) -> dict[str, Any]:
    """Write a year of exports for the nine sources into `out_dir`; return a summary.

    Same (year, seed, scale, profile) -> byte-identical files. At year 2024 and scale 1 of the
    demo profile the accepted, current rows reproduce every figure of the 2024 annual report
    (`expected_metrics`); another profile (demo_data.profiles) only changes volumes.
    """
    plan = build_plan(year, scale, profile)
    out = Path(out_dir)
    chosen = [c for c in SOURCES if sources is None or c in sources]
    unknown = set(sources or []) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources: {', '.join(sorted(unknown))}")
    total = sum(len(plan.sources[c].files) for c in chosen if c in plan.sources)
    done = 0
    files: list[dict[str, Any]] = []
    for sidx, code in enumerate(SOURCES):
        if code not in chosen or code not in plan.sources:
            continue
        sp = plan.sources[code]
        offset = 0
        periods = groupby(sp.files, key=lambda f: (f.start, f.end))
        for gidx, (_, group) in enumerate(periods):
            specs = list(group)
            current = specs[-1]
            cells = sp.cells_for(current)
            ctx = Ctx(spec=current, rng=_rng(seed, sidx, gidx, 0), key_offset=offset)
            canon = BUILDERS[code](cells, ctx)
            first_seq = offset + len(canon) + 1
            reject_rows = sum(s.reject_rows for s in specs)
            for spec in specs:
                rng = _rng(seed, sidx, gidx, spec.version)
                rows_canon = canon
                if spec.superseded:
                    # Rows withdrawn later get numbers after this period's rejected rows.
                    withdrawn_seq = first_seq + reject_rows + 10
                    rows_canon = quirks.superseded(code, canon, spec, rng, withdrawn_seq)
                rows, acc = _assemble(code, spec, rows_canon, rng, first_seq)
                path = _write(code, spec, rows, acc, out, rng)
                files.append(
                    {
                        "path": spec.relative,
                        "source": code,
                        "period_start": spec.start.isoformat(),
                        "period_end": spec.end.isoformat(),
                        "version": spec.version,
                        "superseded": spec.superseded,
                        **acc,
                        "bytes": path.stat().st_size,
                        "sha256": _sha256(path),
                    }
                )
                done += 1
                if progress is not None:
                    progress(done, total, spec.relative)
            if code in YEAR_NUMBERED:
                offset += len(canon) + reject_rows + len(canon) // 50 + 60
    if MANUAL.code in chosen:
        files += write_manual(year, out)
    return summarize(plan, files, out, seed)


def summarize(plan: Plan, files: list[dict[str, Any]], out: Path, seed: int) -> dict[str, Any]:
    per_source: dict[str, dict[str, int]] = {}
    for f in files:
        s = per_source.setdefault(
            f["source"],
            {
                "files": 0,
                "rows_read": 0,
                "rows_accepted": 0,
                "rows_rejected": 0,
                "rows_duplicate": 0,
                "rows_current": 0,
            },
        )
        s["files"] += 1
        for k in ("rows_read", "rows_accepted", "rows_rejected", "rows_duplicate"):
            s[k] += f[k]
        if not f["superseded"]:
            s["rows_current"] += f["rows_accepted"]
    metrics = expected_metrics(plan)
    return {
        "year": plan.year,
        "seed": seed,
        "scale": plan.scale,
        "profile": plan.profile,
        "out_dir": str(out),
        "calibrated": plan.calibrated,
        "files": files,
        "sources": per_source,
        "rows_total": sum(f["rows_read"] for f in files),
        "expected_metrics": {
            k: (str(v) if v is not None and not isinstance(v, int) else v)
            for k, v in metrics.items()
        },
    }
