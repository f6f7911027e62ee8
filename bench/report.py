"""bench/results.json -> bench/results.md (also re-renders an existing JSON without re-running).

.venv/bin/python -m bench.report bench/results.json > bench/results.md
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from bench.report_profiles import section as profiles_section

STAGES = ("read", "validate", "publish", "metrics", "docs")
OTHER = ("discover", "hash", "ledger")


def _n(value: float, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _pct(ratio: float) -> str:
    return "–" if math.isnan(ratio) else f"{ratio * 100:.0f} %"


def _times(ratio: float) -> str:
    return "–" if math.isnan(ratio) else f"{ratio:.1f}×"


def _scale_key(label: str) -> float:
    return float(label)


def _marginal(a: dict[str, Any], b: dict[str, Any], rows: str, seconds: str) -> float:
    extra = b[seconds] - a[seconds]
    return (b[rows] - a[rows]) / extra if extra > 0 else float("nan")


def _e2e_table(scales: dict[str, Any], backend: str) -> list[str]:
    lines = [
        "| scale | files | rows read | run (s) | process wall (s) | rows/s | peak RSS (MiB) "
        "| read | validate | publish | metrics | Data Docs | other |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label in sorted(scales, key=_scale_key):
        s = scales[label].get(backend)
        if not s:
            continue
        st = s["stage_seconds"]
        other = sum(st.get(k, 0.0) for k in OTHER)
        lines.append(
            f"| {label} | {s['files']} | {_n(s['rows_read'])} | {_n(s['seconds'], 1)} "
            f"| {_n(s['wall_seconds'], 1)} | {_n(s['rows_read'] / s['seconds'])} "
            f"| {_n(s['peak_rss_mib'])} | "
            + " | ".join(_n(st.get(k, 0.0), 1) for k in STAGES)
            + f" | {_n(other, 1)} |"
        )
    return lines


def _rss_table(scales: dict[str, Any], backend: str) -> list[str]:
    rows = [scales[k][backend] for k in sorted(scales, key=_scale_key) if scales[k].get(backend)]
    by_process = all("peak_rss_main_mib" in s for s in rows)
    head = "| scale | peak RSS, both processes (MiB) |"
    if by_process:
        head += " main process | reader process |"
    head += " main, during validate | main, during publish | main, during metrics |"
    lines = [head, "|" + "---:|" * (head.count("|") - 1)]
    for label in sorted(scales, key=_scale_key):
        s = scales[label].get(backend)
        if not s:
            continue
        p = s["stage_peak_rss_mib"]
        line = f"| {label} | {_n(s['peak_rss_mib'])} |"
        if by_process:
            line += f" {_n(s['peak_rss_main_mib'])} | {_n(s['peak_rss_reader_mib'])} |"
        line += f" {_n(p['validate'])} | {_n(p['publish'])} | {_n(p['metrics'])} |"
        lines.append(line)
    return lines


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The figures the targets are about, from the two largest scales."""
    scales = report["scales"]
    labels = sorted((k for k in scales if scales[k].get("postgresql")), key=_scale_key)
    out: dict[str, Any] = {}
    if len(labels) >= 2:
        a, b = scales[labels[-2]], scales[labels[-1]]
        e2e = _marginal(a["postgresql"], b["postgresql"], "rows_read", "seconds")
        copy = b["copy"]["rows"] / b["copy"]["copy_seconds"]
        adbc = b["copy"]["rows"] / b["copy"]["adbc_seconds"]
        out.update(
            between=(labels[-2], labels[-1]),
            e2e=e2e,
            copy=copy,
            adbc=adbc,
            limit=max(copy, adbc),
            copy_ratio=e2e / copy,
            limit_ratio=e2e / max(copy, adbc),
        )
        if a.get("naive") and b.get("naive"):
            naive = _marginal(a["naive"], b["naive"], "rows", "seconds")
            out.update(naive=naive, naive_ratio=e2e / naive)
        if a.get("sqlite") and b.get("sqlite"):
            out["sqlite"] = _marginal(a["sqlite"], b["sqlite"], "rows_read", "seconds")
    out["peak_rss"] = max(
        (scales[k]["postgresql"]["peak_rss_mib"] for k in labels), default=float("nan")
    )
    return out


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    scales = report["scales"]
    h = headline(report)
    labels = sorted(scales, key=_scale_key)
    L: list[str] = []
    L += [
        "# Benchmarks: scale, speed and memory (issue 6)",
        "",
        f"Produced by `make bench` (`.venv/bin/{report['command']}`), "
        f"{report['started']} → {report['finished']}. Raw figures of every run: "
        "[`results.json`](results.json). Every measurement ran in a fresh process; "
        "medians over the runs (the number of runs is in each section).",
        "",
        f"**Machine**: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, {m['os']}, "
        f"Python {m['python']}; PostgreSQL {m['versions'].get('postgresql')} on the same host "
        f"({', '.join(f'{k}={v}' for k, v in m.get('pg_settings', {}).items())}); "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if k != "postgresql")
        + ".",
        "",
        f"**Load**: the machine is shared with other sessions; 1/5/15-minute load average "
        f"{report['load_before']} before, {report['load_after']} after (each run's load is in "
        "results.json). With 2 cores, a load above 2 means the figures below are pessimistic.",
        "",
    ]
    # headline
    if "e2e" in h:
        a, b = h["between"]
        L += [
            "## Headline",
            "",
            f"- Marginal end-to-end throughput into PostgreSQL (rows added ÷ seconds added between "
            f"--scale {a} and --scale {b}): **{_n(h['e2e'])} rows/s**, i.e. "
            f"**{_pct(h['copy_ratio'])} of raw COPY** ({_n(h['copy'])} rows/s on the same "
            f"rows; ADBC {_n(h['adbc'])} rows/s){_naive_clause(h)}.",
            f"- Peak RSS of a full-year backfill: **{_n(h['peak_rss'])} MiB** at the largest scale.",
        ]
        if report.get("nightly"):
            md = report["nightly"]["medians"]
            L.append(
                f"- No-op nightly run (scale {report['nightly']['scale']:g}, everything already "
                f"loaded): `bureau-stats run` in process **{md['cli_in_process']:.1f} s**; as the "
                f"Prefect flow in ephemeral mode **{md['cli_flow_ephemeral']:.1f} s** (a flow that "
                f"does nothing: {md['empty_flow_ephemeral']:.1f} s); served against a running "
                f"server **{md['flow_served_run']:.1f} s** of flow time."
            )
        L.append("")

    L += profiles_section(report.get("served_profiles"))
    L += _served_section(report.get("served"))
    L += [
        "## Full-year backfill into PostgreSQL",
        "",
        "`bench.e2e` on an empty database: `flows.run.ingest` over the whole "
        "landing area (what `bureau-stats run --in-process` does), then the year's metrics mart "
        "(`metrics.mart.refresh_mart`) and the Data Docs. *run* is timed inside the process "
        "(after imports); *process wall* includes interpreter start and imports. Stage seconds: "
        "*read* = `extract_file` (decode, parse, normalize, the connector's row rules) in the "
        "reader process, *validate* = the Great Expectations suite, *publish* = "
        "write-audit-publish into the warehouse (COPY, supersession, ledger, rejects) on the "
        "publisher thread, *metrics* = the mart, *other* = discovery, sha256 of every file, "
        "ledger registration and migrations. The next file is read while the previous one is "
        "audited and published, so the stages overlap and add up to more than the run. "
        "*peak RSS* is that of the main and the reader process together (their summed resident "
        "sets, sampled every 10 ms).",
        "",
    ]
    runs_note = ", ".join(
        f"--scale {k}: {scales[k]['postgresql']['runs']}"
        for k in labels
        if scales[k].get("postgresql")
    )
    L += [f"Runs: {runs_note}.", ""]
    L += _e2e_table(scales, "postgresql")
    L += ["", "Peak RSS by process, and in the main process during each stage (MiB):", ""]
    L += _rss_table(scales, "postgresql")
    L += [""]

    # marginal
    L += [
        "## Marginal throughput, beside the physical limit and the naive approach",
        "",
        "The physical limit (`bench.baselines copy`): the same accepted rows, already typed "
        "in Arrow (extraction not timed), loaded into a bare table with no index or constraint: "
        "`COPY … FROM STDIN (FORMAT csv)` written by Arrow (the path the warehouse uses), and "
        "ADBC `adbc_ingest` (binary COPY). The naive approach (`bench.baselines naive`): "
        "`pandas.read_csv` / `read_excel` (openpyxl, pandas' default) / `json` + `DataFrame`, "
        "all columns as text, then `DataFrame.to_sql(if_exists='append')`: no normalization, "
        "no validation, no ledger, no supersession.",
        "",
        "| scale | rows | COPY (s) | COPY rows/s | ADBC (s) | ADBC rows/s | naive (s) "
        "| naive rows/s | naive: read / to_sql (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in labels:
        c, nv = scales[k].get("copy"), scales[k].get("naive")
        if not c:
            continue
        naive_cells = (
            f"{_n(nv['seconds'], 1)} | {_n(nv['rows'] / nv['seconds'])} "
            f"| {_n(nv['read_seconds'], 1)} / {_n(nv['to_sql_seconds'], 1)}"
            if nv
            else "– | – | –"
        )
        L.append(
            f"| {k} | {_n(c['rows'])} | {_n(c['copy_seconds'], 2)} "
            f"| {_n(c['rows'] / c['copy_seconds'])} | {_n(c['adbc_seconds'], 2)} "
            f"| {_n(c['rows'] / c['adbc_seconds'])} | {naive_cells} |"
        )
    L += [
        "",
        "Marginal throughput between consecutive scales (extra rows ÷ extra seconds, so the "
        "fixed cost of start-up and of each of the 105 files cancels; the same 105 files exist "
        "at every scale):",
        "",
        "| between | end-to-end PostgreSQL rows/s | end-to-end SQLite rows/s | naive rows/s "
        "| COPY rows/s at the larger scale | e2e ÷ COPY | e2e ÷ naive |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for a, b in zip(labels, labels[1:], strict=False):
        A, B = scales[a], scales[b]
        if not (A.get("postgresql") and B.get("postgresql")):
            continue
        e2e = _marginal(A["postgresql"], B["postgresql"], "rows_read", "seconds")
        lite = (
            _marginal(A["sqlite"], B["sqlite"], "rows_read", "seconds")
            if A.get("sqlite") and B.get("sqlite")
            else float("nan")
        )
        naive = (
            _marginal(A["naive"], B["naive"], "rows", "seconds")
            if A.get("naive") and B.get("naive")
            else float("nan")
        )
        copy = B["copy"]["rows"] / B["copy"]["copy_seconds"]
        L.append(
            f"| {a} → {b} | {_n(e2e)} | {_n(lite)} | {_n(naive)} | {_n(copy)} "
            f"| {_pct(e2e / copy)} | {_times(e2e / naive)} |"
        )
    L += [""]

    # sqlite
    if any(scales[k].get("sqlite") for k in labels):
        L += [
            "## The same backfill on the SQLite default",
            "",
            "`bench.e2e` with `sqlite:///…/warehouse.db` (a fresh file per run).",
            "",
        ]
        L += _e2e_table(scales, "sqlite")
        L += [""]

    # nightly
    if report.get("nightly"):
        n = report["nightly"]
        md = n["medians"]
        ours = md["cli_flow_ephemeral"] - md["empty_flow_ephemeral"]
        L += [
            "## The nightly run with nothing new",
            "",
            f"`bench.nightly` at --scale {n['scale']:g}, against the PostgreSQL warehouse the "
            f"last backfill run left (every file `skipped`; every file is still hashed), "
            f"{n['runs']} runs each, medians (seconds, wall time of the command unless said):",
            "",
            "| what | seconds | target |",
            "|---|---:|---|",
            f"| `bureau-stats run --in-process --no-docs` (no Prefect) | {md['cli_in_process']:.2f} | – |",
            f"| `bureau-stats run --flow --no-docs`, Prefect ephemeral mode | {md['cli_flow_ephemeral']:.2f} | ≤ 15 s |",
            f"| a flow that does nothing, ephemeral mode (Prefect's own start-up) | {md['empty_flow_ephemeral']:.2f} | – |",
            f"| → ours (the difference) | {ours:.2f} | – |",
            f"| nightly flow served against a running server: flow-run time | {md['flow_served_run']:.2f} | ≤ 3 s |",
            f"| `bureau-stats run --no-docs` against that server (whole command) | {md['cli_served']:.2f} | – |",
            "",
        ]

    # memory
    if report.get("memory"):
        L += [
            "## Memory of the connector on one large file",
            "",
            "`bench.memory`: `extract_file` on one file in a fresh process; peak RSS (MiB) while "
            "the rows are read and checked (`extract_table`; a CSV is parsed block by block as it "
            "is checked, so only one block of cells is in memory) and the size of the accepted "
            "rows handed over to the warehouse (typed Arrow columns, spooled to disk until published).",
            "",
            "| file | size (MiB) | rows | seconds | RSS before | peak in extract_table "
            "| accepted rows (MiB) | peak | growth (peak − before) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for p in report["memory"]:
            growth = p["peak_rss_mib"] - p["rss_before_mib"]
            L.append(
                f"| {p['what']}: `{p['file']}` | {_n(p['size_mib'], 1)} | {_n(p['rows_read'])} "
                f"| {_n(p['seconds'], 1)} | {_n(p['rss_before_mib'])} "
                f"| {_n(p['peak_rss_extract_table_mib'])} | {_n(p.get('accepted_mib'))} "
                f"| {_n(p['peak_rss_mib'])} | {_n(growth)} |"
            )
        L += [""]

    if report.get("pipeline_memory"):
        L += [
            "## Memory of the whole pipeline on one large file",
            "",
            "`bench.e2e` (PostgreSQL) on a landing area holding only a synthetic registration "
            "export: peak RSS (MiB) of the run, main process and reader process together.",
            "",
            "| rows | seconds | peak RSS main + reader | main | reader |",
            "|---:|---:|---:|---:|---:|",
        ]
        for p in report["pipeline_memory"]:
            L.append(
                f"| {_n(p['rows'])} | {_n(p['seconds'], 1)} | {_n(p['peak_rss_mib'])} "
                f"| {_n(p.get('peak_rss_main_mib'))} | {_n(p.get('peak_rss_reader_mib'))} |"
            )
        L += [""]

    if report.get("profiles"):
        L += [
            "Profiles (pyinstrument, text): "
            + ", ".join(
                f"[{k}]({Path(v).relative_to('bench').as_posix()})"
                for k, v in report["profiles"].items()
            )
            + ".",
            "",
        ]

    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        L += [notes.read_text(encoding="utf-8").strip(), ""]

    # commands
    L += [
        "## Commands",
        "",
        "```bash",
        f".venv/bin/{report['command']}          # everything above (make bench)",
    ]
    for k in labels:
        info = scales[k]["landing"]
        L.append(
            f"{info['command']}   # {info['files']} files, {info['bytes'] / 2**20:,.0f} MiB, "
            f"generated in {info['seconds']:.0f} s"
        )
    L += [
        "# one measurement by hand (each prints one JSON document):",
        ".venv/bin/python -m bench.e2e --landing DIR --warehouse postgresql+psycopg://postgres@127.0.0.1/DB [--sql-profile]",
        ".venv/bin/python -m bench.baselines copy  --landing DIR --pg postgresql+psycopg://postgres@127.0.0.1/DB",
        ".venv/bin/python -m bench.baselines naive --landing DIR --pg postgresql+psycopg://postgres@127.0.0.1/DB",
        ".venv/bin/python -m bench.floor --landing DIR --pg postgresql+psycopg://postgres@127.0.0.1/DB   # CPU floor, core-s",
        ".venv/bin/python -m bench.nightly --landing DIR --warehouse URL_OF_A_LOADED_WAREHOUSE",
        ".venv/bin/python -m bench.memory registration/FILE.csv --landing DIR",
        ".venv/bin/python -m bench.report bench/results.json > bench/results.md   # re-render",
        "```",
        "",
    ]
    return "\n".join(L)


def _served_section(served: dict[str, Any] | None) -> list[str]:
    """`bench.served`: the deployment path served against a real Prefect server beside the
    in-process path, same generated year, same benchmark run."""
    if not served:
        return []
    L = [
        "## The served deployment beside the in-process run",
        "",
        f"`{served['command']}` (1/5/15-minute load average {served['load_before']} before; one "
        "run of each path per scale, back to back on one machine). Same generated "
        "year, each path into its own empty PostgreSQL database: *in process* is "
        "`bureau-stats run --in-process --no-docs` (load, refresh the metrics mart, render the "
        "report), wall time of the command including imports; *served* is the `nightly` "
        "deployment served by `bureau-stats serve` against `prefect server start` on loopback, "
        "triggered through the API: the flow run's duration as the server records it, and the "
        "wall time from the trigger to its final state. Both refresh the mart and the report.",
        "",
        "| scale | files | rows read | in process (s) | served flow run (s) | trigger → final (s) "
        "| served ÷ in process | same ledger |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label in sorted(served["scales"], key=_scale_key):
        row = served["scales"][label]
        local, remote = row["in_process"], row["served"]
        ratio = remote["flow_run_seconds"] / local["wall_seconds"] if local["wall_seconds"] else 0
        L.append(
            f"| {label} | {local['files']} | {_n(local['rows_read'])} | "
            f"{local['wall_seconds']:.1f} | {remote['flow_run_seconds']:.1f} | "
            f"{remote['trigger_to_final_seconds']:.1f} | {_times(ratio)} | "
            f"{'yes' if row['same_ledger'] else '**no**'} |"
        )
    return [*L, ""]


def _naive_clause(h: dict[str, Any]) -> str:
    if "naive" not in h:
        return ""
    return (
        f", and **{_times(h['naive_ratio'])} the naive approach** (pandas + `to_sql`: "
        f"{_n(h['naive'])} rows/s marginal)"
    )


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results.json")
    sys.stdout.write(render(json.loads(path.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()
