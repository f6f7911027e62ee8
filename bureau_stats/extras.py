"""Optional features and the extra that installs each (pyproject.toml): a feature selected
without its extra fails with one line saying what to install, not an ImportError traceback."""

from __future__ import annotations

from importlib.util import find_spec

# extra -> the module it installs
EXTRAS = {"dask": "prefect_dask", "adbc": "adbc_driver_postgresql"}


class MissingExtra(ValueError):
    """A feature was selected whose optional dependencies are not installed."""


def installed(extra: str) -> bool:
    return find_spec(EXTRAS[extra]) is not None


def require(extra: str, feature: str) -> None:
    """Raise MissingExtra unless `extra` is installed."""
    if not installed(extra):
        raise MissingExtra(
            f"{feature} needs the optional dependencies [{extra}]: "
            f"pip install 'bureau-stats[{extra}]'"
        )
