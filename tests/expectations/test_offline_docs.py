"""Data Docs with no network: the vendored files are the ones GX's pages name, and a page
rewritten to them loads nothing from outside the machine (the browser test is in
tests/flows/test_offline_pages.py)."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

import pytest

from expectations import offline_docs
from expectations.offline_docs import (
    ASSETS,
    external_references,
    localize_page,
    localize_site,
    vendored_files,
)

GX_TEMPLATES = files("great_expectations") / "render" / "view" / "templates"
GX_STYLES = files("great_expectations") / "render" / "view" / "static" / "styles"
# The templates that write a page's <head> (every page includes js_script_imports.j2).
HEADS = ("index_page.j2", "page.j2", "page_minimal.j2", "js_script_imports.j2")


def _template(name: str) -> str:
    return (GX_TEMPLATES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", HEADS)
def test_every_address_gx_pages_load_is_vendored(name: str) -> None:
    """GX's own templates: external before, none after; a GX that names another file fails."""
    raw = _template(name)
    assert external_references(raw), "GX's template loads nothing external: is it still 1.24?"
    assert external_references(localize_page(raw, "../../")) == []


def test_gx_pages_load_fifteen_files_from_cdns() -> None:
    index = external_references(_template("index_page.j2") + _template("js_script_imports.j2"))
    assert len(set(index)) == len(index) == 15
    loaded = {url for name in HEADS for url in external_references(_template(name))}
    assert loaded == {url for f in vendored_files() for url in f.urls}  # 16: two filter-control


def test_vendored_files_are_the_ones_the_cdn_serves() -> None:
    """Where GX pins a file by its subresource-integrity hash, the vendored copy has that hash."""
    pinned = re.findall(r'src="(https://[^"]+)" integrity="sha384-([^"]+)"', _template(HEADS[-1]))
    assert len(pinned) == 2
    by_url = {url: f for f in vendored_files() for url in f.urls}
    for url, digest in pinned:
        data = by_url[url].source.read_bytes()
        assert base64.b64encode(hashlib.sha384(data).digest()).decode() == digest, url


def test_every_vendored_file_is_there_with_its_licence() -> None:
    listed = vendored_files()
    for item in listed:
        assert item.source.is_file() and item.source.stat().st_size > 0, item.source
    folders = {item.folder for item in listed}
    assert len(folders) == 11
    for folder in folders:
        licences = list((ASSETS / folder).glob("LICENSE*"))
        assert licences and licences[0].read_text(encoding="utf-8").strip(), folder
    # nothing vendored that no page loads (besides licences and the manifest)
    on_disk = {
        p.relative_to(ASSETS).as_posix()
        for p in ASSETS.rglob("*")
        if p.is_file() and not p.name.startswith("LICENSE") and p.name != "manifest.json"
    }
    assert on_disk == {f"{item.folder}/{item.path}" for item in listed}


def test_what_a_vendored_stylesheet_loads_is_vendored() -> None:
    for item in vendored_files():
        if not item.path.endswith(".css"):
            continue
        css = item.source.read_text(encoding="utf-8")
        assert external_references(css) == [], item.path
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", css):
            if not ref.startswith("data:"):
                assert (item.source.parent / ref.split("?")[0].split("#")[0]).is_file(), ref


def test_gx_styles_load_the_dark_logo_from_gx_host_until_rewritten() -> None:
    css = (GX_STYLES / "data_docs_default_styles.css").read_text(encoding="utf-8")
    assert external_references(css)
    assert external_references(localize_page(css, "")) == []


def test_a_page_points_to_the_site_relative_to_its_folder() -> None:
    page = (
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/'
        'bootstrap.min.css"/>\n<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n'
        '<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" '
        'integrity="sha384-x" crossorigin="anonymous"></script>\n'
        '<script src="other.js" integrity="sha384-y" crossorigin="anonymous"></script>\n'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png'
        '?d=20261207T000000.000000Z&dataContextId=abc" alt="GX"/>\n'
        '<a href="https://docs.greatexpectations.io/">docs</a>'
    )
    out = localize_page(page, "../../")
    assert 'href="../../static/vendor/bootstrap-4.3.1/dist/css/bootstrap.min.css"' in out
    assert 'src="../../static/vendor/vega-5.33.1/build/vega.min.js"' in out
    # a file:// page cannot load a CORS-mode script: the attributes go, on vendored tags only
    assert (
        '<script src="../../static/vendor/bootstrap-4.3.1/dist/js/bootstrap.min.js"></script>'
        in out
    )
    assert '<script src="other.js" integrity="sha384-y" crossorigin="anonymous">' in out
    assert 'src="../../static/images/logo-long.png"' in out
    # a link to read elsewhere is not something the page loads
    assert external_references(out) == []
    assert 'href="https://docs.greatexpectations.io/"' in out


@pytest.mark.parametrize(
    "text",
    [
        '<script type="text/javascript" src="http://x.example/a.js"></script>',
        "<link href='https://x.example/a.css' rel='stylesheet'>",
        '<img alt="" src="https://x.example/a.png">',
        "<style>@font-face{src:url(https://x.example/f.woff2)}</style>",
        "<style>@import 'https://x.example/b.css';</style>",
        '<div style="background: url( "http://x.example/i.png")"></div>',
    ],
)
def test_external_references_finds_what_a_page_loads(text: str) -> None:
    assert external_references(text) == [re.search(r"https?://[^'\")]+", text).group(0)]  # type: ignore[union-attr]


def test_localize_site_copies_assets_and_leaves_results_alone(tmp_path: Path) -> None:
    head = _template("js_script_imports.j2")
    (tmp_path / "validations" / "s" / "r").mkdir(parents=True)
    (tmp_path / "results" / "s").mkdir(parents=True)
    (tmp_path / "index.html").write_text(head, encoding="utf-8")
    deep = tmp_path / "validations" / "s" / "r" / "b.html"
    deep.write_text(head, encoding="utf-8")
    stored = tmp_path / "results" / "s" / "b.json"
    stored.write_text('{"note": "https://cdn.jsdelivr.net/npm/vega@5"}', encoding="utf-8")

    assert localize_site(tmp_path) == []
    assert 'src="static/vendor/jquery-3.7.1/' in (tmp_path / "index.html").read_text("utf-8")
    assert 'src="../../../static/vendor/jquery-3.7.1/' in deep.read_text(encoding="utf-8")
    assert "cdn.jsdelivr" in stored.read_text(encoding="utf-8")
    for item in vendored_files():
        assert (tmp_path / item.local).read_bytes() == item.source.read_bytes()
    assert (tmp_path / "static/vendor/vega-5.33.1/LICENSE").is_file()
    # a page rewritten once is not rewritten again (a per-file Data Docs build stays cheap)
    before = deep.stat().st_mtime_ns
    assert localize_site(tmp_path) == []
    assert deep.stat().st_mtime_ns == before


def test_localize_site_reports_what_it_cannot_rewrite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "index.html").write_text(
        '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script>', encoding="utf-8"
    )
    assert localize_site(tmp_path) == ["index.html: https://cdn.jsdelivr.net/npm/vega@6"]
    assert "still load from outside the machine" in caplog.text
    assert offline_docs.log.name == "expectations.offline_docs"
