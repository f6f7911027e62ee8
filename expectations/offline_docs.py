"""Data Docs that open with no network: every page of the site loads its styles, scripts, fonts
and images from the site's own `static/` folder.

Great Expectations 1.24 writes pages that load 15 stylesheets and scripts from public CDNs, and
its index is a table those scripts fill in: on an intranet the index lists nothing and every page
is unstyled. Its templates cannot be overridden through its configuration (a site's custom views
only add templates), so the site is post-processed after each build: the vendored copies of those
files (`expectations/datadocs_assets/`, listed in its `manifest.json`) are copied under
`static/vendor/` and each page's CDN addresses are rewritten to relative paths to them. The GX
logo (fetched from GX's web host, with the context id in the query) points to the copy GX
itself ships under `static/images/`.

Only the exact addresses of the manifest are rewritten; anything else external left in a page
(a newer GX that names other files) is reported by `external_references` and logged.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "datadocs_assets"
VENDOR_DIR = ("static", "vendor")
# Folders of the site that hold no page (the stored validation results).
NOT_PAGES = frozenset({"results", "static"})

# GX's own images, which its pages fetch from its web host; GX also copies them to static/images/.
_GX_IMAGES = re.compile(
    r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/([\w.-]+?\.(?:png|svg|ico))"
    r"(?:\?[^\"'\s)]*)?"
)
# The dark theme's logo, which GX does not ship: the dark navbar shows no logo instead.
_DARK_LOGO = re.compile(
    r"url\('https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/full_logo_dark\.png'\)"
)
# GX's newsletter footer: a tracking link to the internet, of no use on an intranet.
_NEWSLETTER = re.compile(
    r"\s*<footer>\s*<p>Stay current on everything GX with our newsletter.*?</footer>", re.S
)
# Subresource-integrity and CORS attributes: a file:// page cannot load a CORS-mode script.
_CORS_ATTRIBUTES = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')
# What a page loads: src/href of script, link and img, CSS url(...) and @import.
_LOADED = re.compile(
    r"<(?:script|link|img|source|iframe)\b[^>]*?\s(?:src|href|srcset)\s*=\s*[\"']?\s*(https?://[^\"'\s>]+)"
    r"|url\(\s*[\"']?\s*(https?://[^\"')\s]+)"
    r"|@import\s+[\"']\s*(https?://[^\"'\s]+)",
    re.I,
)


@dataclass(frozen=True)
class VendoredFile:
    """One file of an npm package, as GX's pages name it and as the site holds it."""

    package: str
    version: str
    path: str  # inside the package
    urls: tuple[str, ...]  # the CDN addresses GX's pages use for it

    @property
    def folder(self) -> str:
        """The package's folder, named as `npm pack` names its tarball."""
        return f"{self.package.lstrip('@').replace('/', '-')}-{self.version}"

    @property
    def local(self) -> str:
        """Its path inside the site, relative to the site's root."""
        return "/".join((*VENDOR_DIR, self.folder, self.path))

    @property
    def source(self) -> Path:
        return ASSETS / self.folder / self.path


@cache
def manifest() -> dict[str, object]:
    return json.loads((ASSETS / "manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def vendored_files() -> list[VendoredFile]:
    """Every vendored file, in the manifest's order."""
    out = []
    for package in manifest()["packages"]:  # type: ignore[attr-defined]
        for path, urls in package["files"].items():
            out.append(VendoredFile(package["name"], package["version"], path, tuple(urls)))
    return out


@cache
def _replacements() -> tuple[tuple[str, str], ...]:
    """(CDN address, site-relative path), longest address first (one may prefix another)."""
    pairs = [(url, f.local) for f in vendored_files() for url in f.urls]
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


@cache
def _hosts() -> tuple[str, ...]:
    """The hosts of the rewritten addresses: a page naming none of them is already done."""
    names = {url.split("/")[2] for url, _ in _replacements()}
    return (*sorted(names), "great-expectations-web-assets", "greatexpectations.io/newsletter")


# --- pure: one page -----------------------------------------------------------------------------


def localize_page(html: str, to_root: str) -> str:
    """The page with every vendored CDN address and GX image pointing into the site;
    `to_root` is the relative path from the page's folder to the site's root ("" or "../../")."""
    pairs = _replacements()
    pattern = re.compile("|".join(re.escape(url) for url, _ in pairs))
    local = dict(pairs)
    html = pattern.sub(lambda m: to_root + local[m.group(0)], html)
    html = _DARK_LOGO.sub("none", html)
    html = _NEWSLETTER.sub("", html)
    html = _GX_IMAGES.sub(lambda m: f"{to_root}static/images/{m.group(1)}", html)
    return _strip_cors(html, to_root)


def _strip_cors(html: str, to_root: str) -> str:
    """Drop integrity/crossorigin from the tags that now load a vendored file (the file is the
    one the integrity hash names: tests/expectations/test_offline_docs.py checks it)."""
    vendored = f'"{to_root}{"/".join(VENDOR_DIR)}/'

    def tag(m: re.Match[str]) -> str:
        text = m.group(0)
        return _CORS_ATTRIBUTES.sub("", text) if vendored in text else text

    return re.sub(r"<(?:script|link)\b[^>]*>", tag, html)


def external_references(text: str) -> list[str]:
    """The http(s) addresses a page or stylesheet loads (not plain links to other pages)."""
    return [next(g for g in m.groups() if g) for m in _LOADED.finditer(text)]


# --- the site -----------------------------------------------------------------------------------


def _copy_assets(root: Path) -> None:
    """The vendored files and their licences under `root/static/vendor/` (skipped when there)."""
    for item in vendored_files():
        target = root / item.local
        if not target.exists() or target.stat().st_size != item.source.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item.source, target)
    for folder in {item.folder for item in vendored_files()}:
        for licence in (ASSETS / folder).glob("LICENSE*"):
            target = root.joinpath(*VENDOR_DIR, folder, licence.name)
            if not target.exists():
                shutil.copyfile(licence, target)


def _pages(root: Path) -> list[Path]:
    found = [p for p in root.glob("*.html")]
    for child in root.iterdir():
        if child.is_dir() and child.name not in NOT_PAGES:
            found.extend(child.rglob("*.html"))
    return sorted(found)


def localize_site(root: Path) -> list[str]:
    """Make a built Data Docs site open offline; returns the external references left."""
    root = Path(root)
    _copy_assets(root)
    left: list[str] = []
    files = _pages(root) + sorted((root / "static" / "styles").glob("*.css"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        depth = len(path.relative_to(root).parts) - 1
        if path.suffix == ".css":
            # a stylesheet under static/styles/: its images are in ../images/
            new = _DARK_LOGO.sub("none", text)
        elif any(host in text for host in _hosts()):
            new = localize_page(text, "../" * depth)
        else:
            continue
        if new != text:
            path.write_text(new, encoding="utf-8")
        left.extend(f"{path.relative_to(root)}: {url}" for url in external_references(new))
    if left:
        log.warning("Data Docs still load from outside the machine: %s", "; ".join(left[:5]))
    return left
