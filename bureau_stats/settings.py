"""The one settings object. Read when a flow or command starts, never at import time."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Used only when BUREAU_STATS_PII_KEY is unset and the caller explicitly allows it (the demo).
DEVELOPMENT_PII_KEY = "bureau-stats-development-key-not-for-production"


class Settings(BaseSettings):
    """Everything configurable, from `BUREAU_STATS_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="BUREAU_STATS_", extra="ignore")

    var_dir: Path = Path("var")
    landing: str = "var/landing"
    warehouse_url: str = ""
    pii_key: SecretStr | None = None
    reject_threshold: Decimal = Decimal("0.05")
    region: str = "蓬江区"
    data_docs_dir: Path | None = None
    reports_dir: Path | None = None
    # Where operators browse the Data Docs (e.g. a web server in front of data_docs_dir);
    # the Prefect link artifact points there instead of a file:// path.
    data_docs_url: str | None = None
    task_runner: str = Field(default="thread", description="thread | dask")
    dask_address: str | None = None
    max_parallel_sources: int = 2

    def resolved_warehouse_url(self) -> str:
        return self.warehouse_url or f"sqlite:///{(self.var_dir / 'warehouse.db').as_posix()}"

    def resolved_data_docs_dir(self) -> Path:
        return self.data_docs_dir or self.var_dir / "data_docs"

    def resolved_reports_dir(self) -> Path:
        return self.reports_dir or self.var_dir / "reports"

    def pii_key_bytes(self, allow_development_key: bool = False) -> bytes:
        """The HMAC key for personal identifiers; refuse to run without one unless told."""
        if self.pii_key is not None and self.pii_key.get_secret_value():
            return self.pii_key.get_secret_value().encode("utf-8")
        if allow_development_key:
            return DEVELOPMENT_PII_KEY.encode("utf-8")
        raise MissingSettingError(
            "BUREAU_STATS_PII_KEY is not set: personal identifiers cannot be hashed. "
            "Set it to a secret string (the demo uses a built-in development key)."
        )


class MissingSettingError(RuntimeError):
    """A required setting is absent; the CLI maps it to exit code 2."""


def load_settings(**overrides: object) -> Settings:
    """Read the environment now; options given on the command line win."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
