"""`bureau-stats run --flow` is one run of the nightly flow; `--in-process` is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flow_helpers import new_workdir
from typer.testing import CliRunner


def _run(args: list[str]) -> Any:
    from bureau_stats.cli import app, load_commands

    load_commands()
    return CliRunner().invoke(app, ["run", *args, "--json", "--no-docs"])


def test_run_with_flow_is_a_nightly_flow_run(
    flow_landing: Path, prefect_harness: None, tmp_path: Path, use_workdir: Any
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    w = use_workdir(new_workdir(flow_landing, tmp_path / "w", sources=("ip_cases",)))
    result = _run(["--landing", str(w.root / "landing"), "--flow"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [o["status"] for o in doc["files"]] == ["published"] * 4

    async def nightly_runs() -> int:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["nightly"]))
            )
            return len(runs)

    import asyncio

    before = asyncio.run(nightly_runs())
    again = _run(["--landing", str(w.root / "landing"), "--flow"])
    assert again.exit_code == 0
    assert [o["status"] for o in json.loads(again.stdout)["files"]] == ["skipped"] * 4
    assert asyncio.run(nightly_runs()) == before + 1


def test_run_in_process_starts_no_flow(
    flow_landing: Path, tmp_path: Path, use_workdir: Any, monkeypatch: Any
) -> None:
    import flows.nightly

    def refuse(**_: Any) -> None:
        raise AssertionError("the flow must not run with --in-process")

    monkeypatch.setattr(flows.nightly, "run_nightly", refuse)
    w = use_workdir(new_workdir(flow_landing, tmp_path / "w", sources=("ip_cases",)))
    result = _run(["--landing", str(w.root / "landing"), "--in-process"])
    assert result.exit_code == 0, result.output
    assert [o["status"] for o in json.loads(result.stdout)["files"]] == ["published"] * 4
