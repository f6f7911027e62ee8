"""The issue-22 harness's own arithmetic and memory sampling (bench.served, bench.report_profiles)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from bench.report_profiles import marginal_rows, round_ratios, section
from bench.served import cpu_seconds, median_run, wait_quiet
from bench.stages import TreeRss


def _scale(rows: int, local: float, served: float, copy_rows: int, copy_s: float) -> dict:
    return {
        "in_process": {"files": 105, "rows_read": rows, "wall_seconds": local, "peak_rss_mib": 600},
        "served": {"flow_run_seconds": served, "peak_rss_mib": 700, "peak_rss_serve_mib": 200},
        "copy": {"rows": copy_rows, "copy_seconds": copy_s},
        "same_ledger": True,
    }


PROFILE = {
    "command": "python -m bench.served --profile workbook-heavy --scales 10,30",
    "load_before": "0.5 0.5 0.5",
    "scales": {
        "30": _scale(2_400_000, 50.0, 60.0, 2_390_000, 5.0),
        "10": _scale(800_000, 30.0, 28.0, 797_000, 2.0),
    },
}


def test_marginal_is_rows_added_over_seconds_added_against_the_larger_copy() -> None:
    (m,) = marginal_rows(PROFILE)
    assert m["between"] == ("10", "30")  # numeric order, not text order
    assert m["rows"] == 1_600_000
    assert m["in_process"] == pytest.approx(1_600_000 / 20.0)
    assert m["served"] == pytest.approx(1_600_000 / 32.0)
    assert m["copy"] == pytest.approx(2_390_000 / 5.0)
    assert m["in_process_ratio"] == pytest.approx(80_000 / 478_000)
    assert m["peak_rss_mib"] == 700


def test_section_shows_every_profile_and_its_ratios() -> None:
    text = "\n".join(section({"workbook-heavy": PROFILE, "demo": PROFILE}))
    assert "### Profile `workbook-heavy`" in text and "### Profile `demo`" in text
    assert "| 10 → 30 | 1,600,000 | 80,000 | 50,000 | 478,000 | **0.17** | **0.10** | 700 |" in text
    assert section(None) == []


def test_the_median_run_is_kept_with_the_largest_peak() -> None:
    runs = [
        {"wall_seconds": 31.0, "rows_read": 1, "peak_rss_mib": 640.0},
        {"wall_seconds": 25.7, "rows_read": 2, "peak_rss_mib": 700.0},
        {"wall_seconds": 28.9, "rows_read": 3, "peak_rss_mib": 650.0},
    ]
    kept = median_run(runs, "wall_seconds")
    assert (kept["wall_seconds"], kept["rows_read"]) == (28.9, 3)  # that run's own fields
    assert kept["wall_seconds_runs"] == [31.0, 25.7, 28.9]
    assert kept["peak_rss_mib"] == 700.0
    assert median_run(runs[:1], "wall_seconds") == runs[0]  # one run: as it was
    text = "\n".join(section({"demo": {**PROFILE, "runs": 3}}))
    assert "median of 3 runs per scale" in text


def with_grandchild(code: str) -> subprocess.Popen[bytes]:
    """A Python process that runs `code` in a child of its own (so a grandchild of ours)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {code!r}])",
        ]
    )


def test_tree_rss_counts_the_children_of_another_process() -> None:
    grow = "import time; b = bytearray(120 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
    parent = with_grandchild(grow)
    with TreeRss(parent.pid, every=0.02) as rss:
        parent.wait()
    peaks = rss.mib()
    assert peaks["peak_rss_children_mib"] >= 120
    assert peaks["peak_rss_root_mib"] < 120
    assert (
        peaks["peak_rss_mib"] >= peaks["peak_rss_children_mib"] + peaks["peak_rss_root_mib"] * 0.5
    )


def test_the_flow_run_waits_for_a_quiet_server() -> None:
    """Busy windows are waited out; the first quiet one (under 0.1 core) ends the wait."""
    readings = iter([0.0, 1.5, 3.0, 3.1, 9.0])  # CPU-seconds: busy, busy, quiet
    slept: list[float] = []
    waited = wait_quiet([1], window=2.0, cpu=lambda pids: next(readings), sleep=slept.append)
    assert waited == 6.0 and slept == [2.0, 2.0, 2.0]


def test_a_server_that_never_settles_is_an_error() -> None:
    clock = iter(range(0, 1000, 5))
    with pytest.raises(TimeoutError):
        wait_quiet([1], window=2.0, timeout=10, cpu=lambda pids: next(clock), sleep=lambda s: None)


def test_cpu_seconds_counts_a_busy_child() -> None:
    spin = "import time; t = time.process_time()\nwhile time.process_time() - t < 0.6: pass\ntime.sleep(5)"
    parent = with_grandchild(spin)
    try:
        time.sleep(2.5)
        assert cpu_seconds([parent.pid]) >= 0.5  # the grandchild's spin, not the parent's
    finally:
        parent.kill()
        parent.wait()


def test_every_round_runs_every_scale(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Rounds interleave the scales, so a drift of the machine's speed hits both ends."""
    from bench import served as harness

    order: list[tuple[str, str]] = []

    def run(kind: str, seconds: dict[str, float]):
        def path(landing, work, *rest):
            order.append((kind, landing.name))
            return {"wall_seconds": seconds[landing.name], "flow_run_seconds": 1.0, "ledger": []}

        return path

    monkeypatch.setattr(
        harness, "landing_for", lambda scale, data, profile: (tmp_path / f"{scale:g}", {})
    )
    monkeypatch.setattr(harness, "in_process", run("local", {"10": 3.0, "30": 9.0}))
    monkeypatch.setattr(harness, "served", run("served", {"10": 0.0, "30": 0.0}))
    monkeypatch.setattr(
        harness,
        "baseline_runs",
        lambda landing, n, kind: [{"copy_seconds": 1.0, "rows": 5}],
    )
    monkeypatch.setenv("BUREAU_STATS_READERS", "5")  # restored after the test; not passed on
    out = tmp_path / "results.json"
    harness.main(["--scales", "10,30", "--runs", "2", "--json", str(out), "--data", str(tmp_path)])
    assert [scale for kind, scale in order if kind == "local"] == ["10", "30", "10", "30"]
    default = json.loads(out.read_text())["served_profiles"]["demo"]
    assert default["readers"] == harness.default_readers() == 2
    assert "BUREAU_STATS_READERS" not in harness._env(tmp_path, "sqlite://", tmp_path)
    kept = default["scales"]
    assert kept["30"]["in_process"]["wall_seconds_runs"] == [9.0, 9.0]
    assert kept["10"]["in_process"]["round"] in (1, 2) and kept["10"]["same_ledger"] is True
    harness.main(["--scales", "10", "--readers", "1", "--json", str(out), "--data", str(tmp_path)])
    stored = json.loads(out.read_text())["served_profiles"]
    assert set(stored) == {"demo", "demo, 1 reader"} and stored["demo, 1 reader"]["readers"] == 1
    assert harness._env(tmp_path, "sqlite://", tmp_path)["BUREAU_STATS_READERS"] == "1"


def test_each_round_gives_its_own_ratio() -> None:
    rounds = {
        "30": _scale(2_400_000, 50.0, 60.0, 2_390_000, 5.0),
        "10": _scale(800_000, 30.0, 28.0, 797_000, 2.0),
    }
    rounds["30"]["in_process"] |= {"round": 2, "wall_seconds_runs": [50.0, 46.0]}
    rounds["10"]["in_process"]["wall_seconds_runs"] = [30.0, 30.0]
    rounds["30"]["copy"]["copy_seconds_runs"] = [5.0, 4.5]
    profile = {**PROFILE, "scales": rounds, "runs": 2}
    ratios = round_ratios(profile)
    # round 1: 1.6 M rows in 20 s against 2.39 M in 5 s; round 2: in 16 s against 2.39 M in 4.5 s
    assert ratios["in_process 10 → 30"] == pytest.approx(
        [80_000 / 478_000, 100_000 / (2_390_000 / 4.5)]
    )
    assert "served 10 → 30" not in ratios  # no runs recorded for it
    assert "in_process 10 → 30: 0.17 / 0.19" in "\n".join(section({"p": profile}))
    assert round_ratios(PROFILE) == {}
    del rounds["30"]["in_process"]["round"]  # runs from before the rounds: one scale, then the next
    assert round_ratios(profile) == {}
