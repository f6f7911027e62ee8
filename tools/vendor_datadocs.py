"""Fetch again the files Data Docs load (expectations/datadocs_assets/manifest.json) with `npm
pack`: each package at its version, only the files the manifest lists, and its licence.

`python -m tools.vendor_datadocs` (needs npm and the npm registry); run it when Great
Expectations is upgraded and its templates name other files (then edit the manifest first).
A package that ships no licence file keeps the LICENSE written by hand in its folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from expectations.offline_docs import ASSETS, manifest, vendored_files


def _pack(spec: str, into: Path) -> Path:
    done = subprocess.run(
        ["npm", "pack", spec, "--silent"], cwd=into, capture_output=True, text=True, check=True
    )
    return into / done.stdout.strip().splitlines()[-1]


def vendor() -> int:
    """Replace every vendored file by the package's; returns the bytes vendored."""
    total = 0
    with tempfile.TemporaryDirectory(prefix="datadocs-npm-") as tmp:
        for package in manifest()["packages"]:  # type: ignore[attr-defined]
            spec = f"{package['name']}@{package['version']}"
            key = (package["name"], package["version"])
            files = [f for f in vendored_files() if (f.package, f.version) == key]
            folder = ASSETS / files[0].folder
            with tarfile.open(_pack(spec, Path(tmp))) as tar:
                wanted = [*(f.path for f in files), *filter(None, [package["licence"]])]
                for path in wanted:
                    member = tar.extractfile(f"package/{path}")
                    if member is None:
                        raise SystemExit(f"{spec} has no {path}")
                    target = folder / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with target.open("wb") as out:
                        shutil.copyfileobj(member, out)
                    total += target.stat().st_size
            if not list(folder.glob("LICENSE*")):
                raise SystemExit(f"{spec} ships no licence: write {folder}/LICENSE by hand")
            print(f"{spec}: {', '.join(wanted)}")
    return total


if __name__ == "__main__":
    size = vendor()
    print(f"{size / 1e6:.2f} MB vendored", file=sys.stderr)
