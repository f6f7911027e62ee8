"""The manual in docs/ follows the code: every command and every setting is documented, and
every link in the README and the manual leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _manual() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in PAGES)


def _command_paths() -> list[str]:
    """Every command of the CLI, sub-commands of groups as `group sub`."""
    import typer

    from bureau_stats.cli import app, load_commands

    load_commands()
    out: list[str] = []

    def walk(cmd, prefix: str) -> None:  # type: ignore[no-untyped-def]
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            path = f"{prefix} {name}".strip()
            if getattr(sub, "commands", None):
                walk(sub, path)
            else:
                out.append(path)

    walk(typer.main.get_command(app), "")
    return out


def test_the_manual_has_pages() -> None:
    assert len(PAGES) >= 8, [p.name for p in PAGES]


@pytest.mark.parametrize("command", _command_paths())
def test_every_command_is_in_the_manual(command: str) -> None:
    assert f"bureau-stats {command}" in _manual(), (
        f"`bureau-stats {command}` appears nowhere in docs/*.md: document it"
    )


def test_every_setting_is_in_the_configuration_page() -> None:
    from bureau_stats.settings import ENV_PREFIX, Settings

    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [
        f"{ENV_PREFIX}{name.upper()}"
        for name in Settings.model_fields
        if f"`{ENV_PREFIX}{name.upper()}`" not in page
    ]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def _anchors(page: Path) -> set[str]:
    """GitHub-style heading anchors of a Markdown page."""
    out = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#+ (.+)$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_links_lead_somewhere(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):  # http:, mailto:, file: …
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        missing_anchor = bool(anchor) and dest.suffix == ".md" and anchor not in _anchors(dest)
        if not dest.exists() or missing_anchor:
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


def test_the_readme_fits_on_a_screen() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 220, f"README.md has {len(lines)} lines: move detail into docs/"
