"""`bench.served --profile P` results -> the results.md section "marginal throughput by profile"
(issue 22): per volume profile, both paths and a raw COPY of the same rows in the same run."""

from __future__ import annotations

import math
from typing import Any

COPY_TARGET = 0.35
RSS_TARGET_MIB = 1024


def _n(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _ratio(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2f}"


def marginal_rows(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Between consecutive scales: rows added ÷ seconds added for each path and the COPY."""
    labels = sorted(profile["scales"], key=float)
    out = []
    for lo, hi in zip(labels, labels[1:], strict=False):
        a, b = profile["scales"][lo], profile["scales"][hi]
        rows = b["in_process"]["rows_read"] - a["in_process"]["rows_read"]

        def per_second(extra: float, rows: int = rows) -> float:
            return rows / extra if extra > 0 else float("nan")

        local = per_second(b["in_process"]["wall_seconds"] - a["in_process"]["wall_seconds"])
        remote = per_second(b["served"]["flow_run_seconds"] - a["served"]["flow_run_seconds"])
        copy = float("nan")
        if b.get("copy"):
            copy = b["copy"]["rows"] / b["copy"]["copy_seconds"]
        out.append(
            {
                "between": (lo, hi),
                "rows": rows,
                "in_process": local,
                "served": remote,
                "copy": copy,
                "in_process_ratio": local / copy,
                "served_ratio": remote / copy,
                "peak_rss_mib": max(
                    s[path].get("peak_rss_mib", 0.0)
                    for s in (a, b)
                    for path in ("in_process", "served")
                ),
            }
        )
    return out


def round_ratios(profile: dict[str, Any]) -> dict[str, list[float]]:
    """Per round (`bench.served --runs N`), the marginal of each path against that round's COPY:
    the two scales of a round ran minutes apart, so their difference is the least exposed to a
    drift of the machine's speed. Empty with one run, or runs recorded without rounds."""
    labels = sorted(profile["scales"], key=float)
    out: dict[str, list[float]] = {}
    for lo, hi in zip(labels, labels[1:], strict=False):
        a, b = profile["scales"][lo], profile["scales"][hi]
        rows = b["in_process"]["rows_read"] - a["in_process"]["rows_read"]
        copies = (b.get("copy") or {}).get("copy_seconds_runs")
        if not copies or "round" not in b["in_process"]:  # runs not in rounds: not paired
            continue
        copy_rate = [b["copy"]["rows"] / c for c in copies]
        for path, key in (("in_process", "wall_seconds"), ("served", "flow_run_seconds")):
            low, high = a[path].get(f"{key}_runs"), b[path].get(f"{key}_runs")
            if not low or not high or not len(low) == len(high) == len(copies):
                continue
            out[f"{path} {lo} → {hi}"] = [
                rows / (y - x) / rate if y > x else float("nan")
                for x, y, rate in zip(low, high, copy_rate, strict=True)
            ]
    return out


def _runs(n: int) -> str:
    return "one run of each path per scale, " if n <= 1 else f"median of {n} runs per scale, "


def section(profiles: dict[str, Any] | None) -> list[str]:
    if not profiles:
        return []
    L = [
        "## Marginal throughput by volume profile, in process and served (issue 22)",
        "",
        "`python -m bench.served --profile P --scales A,B` on the year of that volume profile "
        "(`bureau-stats generate-sample --profile P`: *demo* is the calibrated year, "
        "*workbook-heavy* has about a quarter of its rows in XLSX). Per scale, one run of each "
        "path (with `--runs N`: the median of N rounds, each round running every scale) into "
        "its own empty PostgreSQL database: *in process* is `bureau-stats run "
        "--in-process --no-docs` (wall time of the command; peak RSS of its process and the "
        "reader process together), *served* is the `nightly` deployment served by `bureau-stats "
        "serve` against `prefect server start`, triggered through the API (the flow run's "
        "duration as the server records it; peak RSS of the flow run's process and its reader "
        "together; `serve`'s own process apart), then `bench.baselines copy`: the same accepted "
        "rows COPYed into bare tables. Marginal = rows added ÷ seconds added between the two "
        "scales (the fixed cost of start-up and of each file cancels); the COPY column is the "
        f"COPY's rows/s at the larger scale. Targets: ≥ {COPY_TARGET:.2f} of COPY, peak RSS "
        f"≤ {RSS_TARGET_MIB} MiB.",
        "",
    ]
    for name, profile in profiles.items():
        L += [
            f"### Profile `{name}`",
            "",
            f"`{profile['command']}`, {profile.get('started', '?')}, "
            f"{_runs(profile.get('runs', 1))}"
            f"{profile.get('minutes', '?')} min; 1/5/15-minute load average "
            f"{profile['load_before']} before, {profile.get('load_after', '?')} after (2 cores: "
            "above 2 the figures are pessimistic).",
            "",
            "| scale | files | rows read | in process (s) | peak RSS (MiB) | served flow run (s) "
            "| peak RSS (MiB) | `serve` (MiB) | COPY rows | COPY (s) | same ledger |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for label in sorted(profile["scales"], key=float):
            row = profile["scales"][label]
            local, remote, copy = row["in_process"], row["served"], row.get("copy") or {}
            L.append(
                f"| {label} | {local['files']} | {_n(local['rows_read'])} "
                f"| {_n(local['wall_seconds'], 1)} | {_n(local.get('peak_rss_mib'))} "
                f"| {_n(remote['flow_run_seconds'], 1)} | {_n(remote.get('peak_rss_mib'))} "
                f"| {_n(remote.get('peak_rss_serve_mib'))} | {_n(copy.get('rows'))} "
                f"| {_n(copy.get('copy_seconds'), 2)} "
                f"| {'yes' if row['same_ledger'] else '**no**'} |"
            )
        L += [
            "",
            "| between | rows added | in process rows/s | served rows/s | COPY rows/s "
            "| in process ÷ COPY | served ÷ COPY | peak RSS (MiB) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for m in marginal_rows(profile):
            lo, hi = m["between"]
            L.append(
                f"| {lo} → {hi} | {_n(m['rows'])} | {_n(m['in_process'])} | {_n(m['served'])} "
                f"| {_n(m['copy'])} | **{_ratio(m['in_process_ratio'])}** "
                f"| **{_ratio(m['served_ratio'])}** | {_n(m['peak_rss_mib'])} |"
            )
        per_round = round_ratios(profile)
        if per_round:
            shown = "; ".join(
                f"{what}: {' / '.join(map(_ratio, ratios))}" for what, ratios in per_round.items()
            )
            L += ["", f"Per round (both scales and the COPY of one round), ÷ COPY: {shown}."]
        L.append("")
    return L
