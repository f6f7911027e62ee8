"""Every page a run writes opens with no network: `bureau-stats run` over two sources of the
generated year, then (1) no HTML it wrote (Data Docs, the report) nor a stylesheet of the Data
Docs loads anything from an http(s) address, and (2) the system's headless Chromium, with every
address but loopback unreachable, opens the Data Docs index and finds every validation of the
run in the table its scripts fill in. The same index pointing back to the CDNs lists nothing:
the browser really is offline, and the table really needs the vendored scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flow_helpers import new_workdir
from typer.testing import CliRunner

from expectations.offline_docs import external_references, vendored_files
from tools import ui_pages

pytestmark = pytest.mark.slow

# Four quarterly and two half-yearly exports: six validations, one page of the index's table.
SOURCES = ("ip_cases", "ip_pledge")


@pytest.fixture(scope="module")
def run_once(flow_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from bureau_stats.cli import app, load_commands
    from tasks.context import dispose_engines

    w = new_workdir(flow_landing, tmp_path_factory.mktemp("offline") / "w", sources=SOURCES)
    load_commands()
    with pytest.MonkeyPatch.context() as mp:
        for k, v in w.env().items():
            mp.setenv(k, v)
        result = CliRunner().invoke(app, ["run", "--in-process", "--json"])
        dispose_engines()
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    doc["var"] = str(w.var)
    return doc


def _validations(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(suite, run name, batch id) of each file the run validated."""
    out = []
    for f in doc["files"]:
        period = re.search(r"_(\d{8}-\d{8})\.", f["file"])
        assert period, f["file"]
        out.append((f["source"], f"{period.group(1)}_v1", f["sha256"][:16]))
    return out


def test_no_page_the_run_writes_loads_from_outside(run_once: dict[str, Any]) -> None:
    var = Path(run_once["var"])
    pages = sorted(var.rglob("*.html"))
    docs = Path(run_once["data_docs"]).parent
    assert docs / "index.html" in pages
    assert var / "reports" / "report_2024.html" in pages
    assert len(list((docs / "validations").rglob("*.html"))) == len(run_once["files"]) == 6
    styles = sorted((docs / "static").rglob("*.css"))
    assert len(styles) > len([f for f in vendored_files() if f.path.endswith(".css")])
    loaded = {
        str(p.relative_to(var)): refs
        for p in pages + styles
        if (refs := external_references(p.read_text(encoding="utf-8")))
    }
    assert loaded == {}
    # and every local script and stylesheet a page names is there
    index = (docs / "index.html").read_text(encoding="utf-8")
    local = re.findall(r'<(?:script|link)\b[^>]*?(?:src|href)="(static/[^"]+)"', index)
    assert len(local) == 15
    assert all((docs / path).is_file() for path in local)


def test_offline_chromium_lists_every_validation(run_once: dict[str, Any]) -> None:
    index = Path(run_once["data_docs"])
    validations = _validations(run_once)
    assert len(validations) == 6

    text = ui_pages.read_page(index.as_uri(), f"of {len(validations)} rows")
    assert f"Showing 1 to {len(validations)} of {len(validations)} rows" in text, text[:2000]
    for suite, run_name, batch in validations:
        row = re.search(rf"{run_name} {suite} {batch} .*? {suite} ", text)
        assert row, (suite, run_name, batch, text[:3000])

    # the control: the same index loading from the CDNs shows no row offline
    online = index.read_text(encoding="utf-8")
    for item in vendored_files():
        if item.urls:
            online = online.replace(f'"{item.local}"', f'"{item.urls[0]}"')
    assert len(external_references(online)) == 15
    control = index.with_name("index-cdn.html")
    control.write_text(online, encoding="utf-8")
    cdn_text = ui_pages.page_text(ui_pages.dump_dom(control.as_uri(), budget_ms=10000))
    assert "Expectation Suite" in cdn_text  # the page itself is there
    assert not [b for _, _, b in validations if b in cdn_text]
    assert "rows" not in cdn_text
