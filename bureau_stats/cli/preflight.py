"""Checks a command makes before it starts anything (a flow, a temporary Prefect server): a
configuration error is then one line and exit 2, never a traceback from inside a run."""

from __future__ import annotations

from typing import Any


def settings_error(exc: BaseException) -> str | None:
    """The one line for a configuration error, or None when `exc` is not one."""
    from pydantic import ValidationError

    from bureau_stats.settings import MissingSettingError
    from warehouse.engine import WarehouseError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        variable = f"BUREAU_STATS_{where.upper()}" if where != "settings" else where
        return f"invalid setting {variable}: {first.get('msg')}"
    if isinstance(exc, MissingSettingError | WarehouseError | FileNotFoundError):
        return str(exc)
    return None


def preflight(landing: str | None, warehouse: str | None = None, *, hashes: bool = True) -> Any:
    """Settings valid, the landing area listable, and (when the command hashes) the PII key
    set and the warehouse's own. Returns the settings."""
    from bureau_stats.settings import load_settings
    from connectors.landing import check_landing
    from warehouse.engine import open_warehouse
    from warehouse.pii_key import check_pii_key

    settings = load_settings(landing=landing, warehouse_url=warehouse)
    if hashes:
        settings.pii_key_bytes()
    settings.make_run_folders()
    check_landing(str(landing or settings.landing))
    engine = open_warehouse(settings.resolved_warehouse_url())
    try:
        if hashes:
            check_pii_key(engine, settings.pii_key_bytes())
    finally:
        engine.dispose()
    return settings
