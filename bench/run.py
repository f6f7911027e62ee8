"""`make bench`: every benchmark of issue 6, side by side, written to bench/results.md.

    .venv/bin/python -m bench.run                        # scales 1, 10, 100; 3 runs (1 at 100)
    .venv/bin/python -m bench.run --scales 1,10 --runs 2 # quicker
    .venv/bin/python -m bench.run --profile              # also pyinstrument profiles

For each scale of the demo year (`bureau-stats generate-sample --year 2024 --scale S`, generated
once under --data and reused):

- the full-year backfill into PostgreSQL (`bench.e2e`: what `bureau-stats run` does on an empty
  warehouse, then the metrics mart and the Data Docs), time split by stage, peak RSS;
- in the same run, the physical limit (`bench.baselines copy`: COPY and ADBC ingest of the same
  accepted rows into bare tables) and the naive approach (`bench.baselines naive`);
- the same backfill on the SQLite default;
- at the largest scale, the nightly run with nothing new (`bench.nightly`) and the connector's
  memory on the largest file (`bench.memory`, also on synthetic 1,000,000- and 3,000,000-row
  exports).

Every measurement runs in a fresh process; each PostgreSQL run gets its own database, dropped
afterwards. Medians of the runs; raw figures in bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get(
    "BUREAU_STATS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MIB = 2**20
COPY_TARGET = 0.35
NAIVE_TARGET = 10.0
RSS_TARGET_MIB = 1024
NOOP_EPHEMERAL_TARGET = 15.0
NOOP_SERVED_TARGET = 3.0


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- machine -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    versions: dict[str, str] = {}
    for name in ("pandas", "pyarrow", "great_expectations", "prefect", "sqlalchemy", "psycopg"):
        try:
            from importlib.metadata import version

            versions[name] = version(name.replace("_", "-"))
        except Exception:
            versions[name] = "?"
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(ADMIN_URL)
        with engine.connect() as conn:
            versions["postgresql"] = str(conn.execute(text("SHOW server_version")).scalar())
            settings = {
                k: str(conn.execute(text(f"SHOW {k}")).scalar())
                for k in ("shared_buffers", "synchronous_commit", "max_wal_size")
            }
        engine.dispose()
    except Exception as exc:
        versions["postgresql"] = f"unreachable ({type(exc).__name__})"
        settings = {}
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
        "pg_settings": settings,
    }


# --- helpers -----------------------------------------------------------------------------


def worker(module: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `python -m bench.<module> args` in a fresh process; its JSON plus the wall time."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"bench.{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    doc["wall_seconds"] = round(wall, 3)
    doc["load_after"] = loadavg()
    return dict(doc)


class Database:
    """A scratch PostgreSQL database, created now, dropped by `drop()`."""

    def __init__(self, label: str) -> None:
        from sqlalchemy import create_engine, text

        self.name = f"bureau_bench_{label}_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def landing_for(scale: float, data: Path, profile: str = "demo") -> tuple[Path, dict[str, Any]]:
    """The demo year at `scale` (in a volume `profile`: demo_data.profiles), generated once (a
    summary file marks it complete)."""
    label = f"{scale:g}"
    folder = data / (f"scale-{label}" if profile == "demo" else f"{profile}-scale-{label}")
    landing = folder / "landing"
    done = folder / "generated.json"
    if done.exists():
        return landing, dict(json.loads(done.read_text()))
    log(f"generating the 2024 {profile} year at --scale {label} into {landing}")
    if landing.exists():
        shutil.rmtree(landing)
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(BIN / "bureau-stats"),
        "generate-sample",
        "--year",
        "2024",
        "--out",
        str(landing),
        "--scale",
        label,
        *(["--profile", profile] if profile != "demo" else []),
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    info = {
        "scale": scale,
        "command": " ".join(["bureau-stats", *cmd[1:]]),
        "seconds": round(time.perf_counter() - t0, 1),
        "files": sum(1 for p in landing.rglob("*") if p.is_file()),
        "bytes": sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()),
    }
    done.write_text(json.dumps(info))
    return landing, info


def largest_file(landing: Path) -> str:
    biggest = max((p for p in landing.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    return biggest.relative_to(landing).as_posix()


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


# --- measurements --------------------------------------------------------------------------


def e2e_runs(
    landing: Path, runs: int, backend: str, keep_last: bool = False
) -> tuple[list[dict[str, Any]], Database | None]:
    out: list[dict[str, Any]] = []
    kept: Database | None = None
    for i in range(runs):
        var = Path(tempfile.mkdtemp(prefix="bench-var-"))
        if backend == "postgresql":
            db = Database("e2e")
            try:
                doc = worker(
                    "e2e", "--landing", str(landing), "--warehouse", db.url, "--var", str(var)
                )
            except BaseException:
                db.drop()
                raise
            if keep_last and i == runs - 1:
                kept = db
            else:
                db.drop()
        else:
            url = f"sqlite:///{var / 'warehouse.db'}"
            doc = worker("e2e", "--landing", str(landing), "--warehouse", url, "--var", str(var))
        log(
            f"  e2e {backend} run {i + 1}/{runs}: {doc['seconds']:.1f}s, "
            f"peak {doc['peak_rss_mib']:.0f} MiB (load {doc['load_after']})"
        )
        out.append(doc)
    return out, kept


def baseline_runs(landing: Path, runs: int, mode: str) -> list[dict[str, Any]]:
    out = []
    for i in range(runs):
        db = Database(mode)
        try:
            doc = worker("baselines", mode, "--landing", str(landing), "--pg", db.url)
        finally:
            db.drop()
        log(
            f"  {mode} run {i + 1}/{runs}: {json.dumps({k: doc[k] for k in doc if 'seconds' in k})}"
        )
        out.append(doc)
    return out


SYNTHETIC_ROWS = (1_000_000, 3_000_000)  # how memory grows with one file's size


def memory_probes(landings: dict[float, Path], tmp: Path) -> list[dict[str, Any]]:
    probes = []
    for scale, landing in sorted(landings.items()):
        doc = worker("memory", largest_file(landing), "--landing", str(landing))
        doc["what"] = f"largest file at --scale {scale:g}"
        probes.append(doc)
    from bench.bench_connectors import build

    synthetic = tmp / "synthetic"
    for rows in SYNTHETIC_ROWS:
        path = build(rows, synthetic)
        doc = worker("memory", f"registration/{path.name}", "--landing", str(synthetic))
        doc["what"] = f"synthetic registration export, {rows:,} rows (bench.bench_connectors.build)"
        probes.append(doc)
        path.unlink()
    return probes


def pipeline_probes(tmp: Path) -> list[dict[str, Any]]:
    """The whole pipeline (`bench.e2e`, PostgreSQL) on a landing area holding one large
    synthetic file: does the run's peak RSS (main + reader process) stay bounded?"""
    from bench.bench_connectors import build

    probes = []
    for rows in SYNTHETIC_ROWS:
        synthetic = tmp / f"pipeline-{rows}"
        build(rows, synthetic)
        (doc,), _ = e2e_runs(synthetic, 1, "postgresql")
        probes.append(
            {
                "rows": rows,
                "seconds": doc["seconds"],
                "peak_rss_mib": doc["peak_rss_mib"],
                "peak_rss_main_mib": doc.get("peak_rss_main_mib"),
                "peak_rss_reader_mib": doc.get("peak_rss_reader_mib"),
            }
        )
        shutil.rmtree(synthetic, ignore_errors=True)
    return probes


def profiles(landing: Path, scale: float, out_dir: Path) -> dict[str, str]:
    """pyinstrument text profiles of the backfill and of the connector on the largest file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    label = f"{scale:g}"
    made: dict[str, str] = {}
    db = Database("prof")
    try:
        target = out_dir / f"e2e_scale{label}_postgresql.txt"
        var = tempfile.mkdtemp(prefix="bench-var-")
        subprocess.run(
            [
                str(BIN / "pyinstrument"),
                "-r",
                "text",
                "-o",
                str(target),
                "-m",
                "bench.e2e",
                "--landing",
                str(landing),
                "--warehouse",
                db.url,
                "--var",
                var,
                "--no-docs",
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        made["backfill"] = target.relative_to(REPO).as_posix()
    finally:
        db.drop()
    target = out_dir / "connector_largest_file.txt"
    subprocess.run(
        [
            str(BIN / "pyinstrument"),
            "-r",
            "text",
            "-o",
            str(target),
            "-m",
            "bench.memory",
            largest_file(landing),
            "--landing",
            str(landing),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    made["connector"] = target.relative_to(REPO).as_posix()
    return made


# --- summary -------------------------------------------------------------------------------


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of one e2e configuration."""
    first = runs[0]
    stages = list(first["stage_seconds"])
    return {
        "runs": len(runs),
        "files": first["files"],
        "statuses": first["statuses"],
        "rows_read": first["rows_read"],
        "rows_accepted": first["rows_accepted"],
        "seconds": median([r["seconds"] for r in runs]),
        "wall_seconds": median([r["wall_seconds"] for r in runs]),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "peak_rss_main_mib": max(r.get("peak_rss_main_mib", 0.0) for r in runs),
        "peak_rss_reader_mib": max(r.get("peak_rss_reader_mib", 0.0) for r in runs),
        "stage_seconds": {s: median([r["stage_seconds"][s] for r in runs]) for s in stages},
        "stage_peak_rss_mib": {s: max(r["stage_peak_rss_mib"][s] for r in runs) for s in stages},
    }


def summarize_copy(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": len(runs),
        "rows": runs[0]["rows"],
        "copy_seconds": median([r["copy_seconds"] for r in runs]),
        "adbc_seconds": median([r["adbc_seconds"] for r in runs]),
    }


def summarize_naive(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": len(runs),
        "rows": runs[0]["rows"],
        "failed_files": runs[0]["failed_files"],
        "seconds": median([r["seconds"] for r in runs]),
        "read_seconds": median([r["read_seconds"] for r in runs]),
        "to_sql_seconds": median([r["to_sql_seconds"] for r in runs]),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
    }


def marginal(a: dict[str, Any], b: dict[str, Any], rows_key: str, sec_key: str) -> float:
    extra_s = b[sec_key] - a[sec_key]
    return (b[rows_key] - a[rows_key]) / extra_s if extra_s > 0 else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement")
    parser.add_argument(
        "--large-runs", type=int, default=1, help="runs at scales of 100 and more (heavy)"
    )
    parser.add_argument("--data", default=str(REPO / "var" / "bench"), help="generated years")
    parser.add_argument("--out", default=str(REPO / "bench" / "results.md"))
    parser.add_argument("--skip", default="", help="comma list: naive,sqlite,nightly,memory")
    parser.add_argument("--profile", action="store_true", help="pyinstrument at the largest scale")
    args = parser.parse_args(argv)

    os.environ.setdefault("BUREAU_STATS_PII_KEY", "bench-pii-key")
    for k in ("GX_ANALYTICS_ENABLED", "PREFECT_SERVER_ANALYTICS_ENABLED"):
        os.environ.setdefault(k, "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    skip = {s for s in args.skip.split(",") if s}
    scales = [float(s) for s in args.scales.split(",")]
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    started = datetime.now().astimezone()
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "load_before": loadavg(),
        "scales": {},
    }
    landings: dict[float, Path] = {}
    for scale in scales:
        landing, info = landing_for(scale, data)
        landings[scale] = landing
        report["scales"][f"{scale:g}"] = {"landing": info}

    largest = max(scales)
    kept: Database | None = None
    try:
        for scale in scales:
            runs = args.large_runs if scale >= 100 else args.runs
            entry = report["scales"][f"{scale:g}"]
            landing = landings[scale]
            log(f"scale {scale:g}: {runs} run(s) each")
            pg, kept_now = e2e_runs(landing, runs, "postgresql", keep_last=scale == largest)
            kept = kept_now or kept
            entry["postgresql_runs"] = pg
            entry["postgresql"] = summarize(pg)
            copy = baseline_runs(landing, runs, "copy")
            entry["copy_runs"] = copy
            entry["copy"] = summarize_copy(copy)
            if "naive" not in skip:
                naive = baseline_runs(landing, runs, "naive")
                entry["naive_runs"] = naive
                entry["naive"] = summarize_naive(naive)
            if "sqlite" not in skip:
                lite, _ = e2e_runs(landing, runs, "sqlite")
                entry["sqlite_runs"] = lite
                entry["sqlite"] = summarize(lite)
        if "nightly" not in skip and kept is not None:
            log(f"no-op nightly at scale {largest:g}")
            report["nightly"] = worker(
                "nightly",
                "--landing",
                str(landings[largest]),
                "--warehouse",
                kept.url,
                "--runs",
                str(args.runs),
            )
            report["nightly"]["scale"] = largest
    finally:
        if kept is not None:
            kept.drop()
    with tempfile.TemporaryDirectory() as tmp:
        if "memory" not in skip:
            log("connector memory on the largest files")
            report["memory"] = memory_probes(landings, Path(tmp))
            log("pipeline on one large synthetic file")
            report["pipeline_memory"] = pipeline_probes(Path(tmp))
    if args.profile:
        log(f"profiling the backfill at scale {largest:g}")
        report["profiles"] = profiles(landings[largest], largest, REPO / "bench" / "profiles")
    report["load_after"] = loadavg()
    report["finished"] = datetime.now().astimezone().isoformat(timespec="seconds")

    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    from bench.report import render

    out.write_text(render(report), encoding="utf-8")
    log(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
