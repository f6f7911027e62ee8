"""The one settings object. Read when a flow or command starts, never at import time.

Secrets (`SECRETS`: the PII key and the warehouse URL, which carries its password) come from
their environment variable, or from a Prefect Secret block the environment names:
`BUREAU_STATS_PII_KEY_BLOCK=bureau-stats-pii-key` reads the key from the block of that name.
When both are given the environment variable wins (a flow run logs that the block was not
read). Blocks are loaded when a flow starts (`Settings.resolve_secrets`) and otherwise on first
use, once per process and flow run; never at import time. Values stay `SecretStr` (masked in
repr and logs) and no error message quotes one. Reading a block is Prefect's business: this
module never imports Prefect; `tasks.secret_blocks` installs the loader it calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.verdict import DEFAULT_REJECT_THRESHOLD
from metrics.catalog import DEFAULT_REGION

ENV_PREFIX = "BUREAU_STATS_"

# Used only when BUREAU_STATS_PII_KEY is unset and the caller explicitly allows it (the demo).
DEVELOPMENT_PII_KEY = "bureau-stats-development-key-not-for-production"

# Settings that are secrets: each may instead name a Prefect Secret block (`<name>_block`).
SECRETS = ("pii_key", "warehouse_url")


class Settings(BaseSettings):
    """Everything configurable, from `BUREAU_STATS_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    var_dir: Path = Path("var")
    landing: str = "var/landing"
    warehouse_url: SecretStr | None = None
    warehouse_url_block: str | None = None  # name of a Prefect Secret block holding the URL
    pii_key: SecretStr | None = None
    pii_key_block: str | None = None  # name of a Prefect Secret block holding the key
    # A share of rows (0-1): -1 quarantined every file, and the next run skipped them all.
    reject_threshold: Decimal = Field(default=DEFAULT_REJECT_THRESHOLD, ge=0, le=1)
    region: str = DEFAULT_REGION
    # The bureau the report is titled for (default: the region's 市场监督管理局); not the
    # region, which only chooses whose IP statistics are reported.
    bureau: str | None = None
    data_docs_dir: Path | None = None
    reports_dir: Path | None = None
    # Accepted rows of the files being processed, spilled to disk (default <var_dir>/spool)
    spool_dir: Path | None = None
    # Where operators browse the Data Docs (e.g. a web server in front of data_docs_dir);
    # the Prefect link artifact points there instead of a file:// path.
    data_docs_url: str | None = None
    task_runner: str = Field(default="thread", description="thread | dask")
    dask_address: str | None = None
    max_parallel_sources: int = Field(default=2, ge=1)
    # A source lease nobody renewed for this long has expired (its holder renews it every
    # third of it); a run waits this long for a source another run holds, then gives up.
    # None: the warehouse's defaults (warehouse.leases: 300 s and 1800 s).
    lease_ttl_seconds: float | None = Field(default=None, gt=0)
    lock_wait_seconds: float | None = Field(default=None, ge=0)
    # A period's export is due by this day of the month after the period (late deliveries:
    # `status --late`, the nightly summary and its overdue events; connectors/cadence.py).
    delivery_due_day: int = Field(default=10, ge=1, le=31)
    # `run` reads the next file in a separate process while one is audited and published
    read_ahead: Literal["process", "thread"] = "process"
    # How many reader processes read the next files at once (read_ahead=process): two keep
    # two cores busy, within 1 GiB for the run (bench/NOTES.md, session 16)
    readers: int = Field(default=2, ge=1, le=8)
    # GX's internals used by the audit on the tested GX version (expectations.gx_compat, which
    # reads this variable itself in every process that audits); off: GX's public API only.
    gx_compat: bool = True
    # The Prefect notification block (`TYPE/NAME`) the committed automations notify through
    # (`bureau-stats automations apply`); unset: they fire but do nothing.
    notify_block: str | None = None
    # Limits of the reader process (read_ahead=process): its address space in MB and the time
    # one file may take; a file beyond them is quarantined `too_large` (0: no limit).
    reader_memory_mb: int = Field(default=8192, ge=0)
    reader_timeout_seconds: float = Field(default=1800.0, ge=0)

    @field_validator("task_runner")
    @classmethod
    def _dask_needs_its_extra(cls, kind: str) -> str:
        if kind.strip().lower() == "dask":
            from bureau_stats.extras import require

            require("dask", "BUREAU_STATS_TASK_RUNNER=dask")
        return kind

    def secret(self, name: str) -> SecretStr | None:
        """The secret `name` (one of SECRETS): its own value when given, else the Prefect
        Secret block `<name>_block` names (loaded once per process and flow run), else None."""
        own: SecretStr | None = getattr(self, name)
        if own is not None and own.get_secret_value():
            return own
        block: str | None = getattr(self, f"{name}_block")
        if block:
            return _load_block(block, env_name(f"{name}_block"))
        return None

    def resolve_secrets(self) -> list[tuple[int, str]]:
        """Load every secret configured as a block now, fresh from Prefect (a flow run calls
        this first, so a missing block fails the run before it touches anything).

        Returns what to log, as (logging level, message): where each configured secret comes
        from, by name only. Raises SecretBlockError naming the block when one cannot be used.
        """
        notes: list[tuple[int, str]] = []
        for name in SECRETS:
            variable, block_variable = env_name(name), env_name(f"{name}_block")
            own: SecretStr | None = getattr(self, name)
            block: str | None = getattr(self, f"{name}_block")
            if own is not None and own.get_secret_value():
                if block:
                    notes.append(
                        (
                            logging.WARNING,
                            f"{variable} and {block_variable} are both set: {variable} is "
                            f"used, the Prefect Secret block {block!r} is not read",
                        )
                    )
            elif block:
                _load_block(block, block_variable, refresh=True)
                notes.append((logging.INFO, f"{variable}: from the Prefect Secret block {block!r}"))
        return notes

    def resolved_warehouse_url(self) -> str:
        url = self.secret("warehouse_url")
        if url is not None:
            return url.get_secret_value()
        return f"sqlite:///{(self.var_dir / 'warehouse.db').as_posix()}"

    def resolved_data_docs_dir(self) -> Path:
        return self.data_docs_dir or self.var_dir / "data_docs"

    def resolved_spool_dir(self) -> Path:
        return self.spool_dir or self.var_dir / "spool"

    def resolved_reports_dir(self) -> Path:
        return self.reports_dir or self.var_dir / "reports"

    def make_run_folders(self) -> None:
        """Create the folders a run writes to, before it touches anything: a folder that cannot
        exist (its parent is a file, a read-only or pseudo file system) is a setting to fix."""
        for what, folder in (
            ("BUREAU_STATS_VAR_DIR", self.var_dir),
            ("the spool folder", self.resolved_spool_dir()),
            ("the Data Docs folder", self.resolved_data_docs_dir()),
        ):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise FolderError(f"{what} {folder} cannot be created: {reason}") from None

    def pii_key_bytes(self, allow_development_key: bool = False) -> bytes:
        """The HMAC key for personal identifiers; refuse to run without one unless told."""
        key = self.secret("pii_key")
        if key is not None:
            return key.get_secret_value().encode("utf-8")
        if allow_development_key:
            return DEVELOPMENT_PII_KEY.encode("utf-8")
        raise MissingSettingError(
            "BUREAU_STATS_PII_KEY is not set: personal identifiers cannot be hashed. "
            "Set it to a secret string, or set BUREAU_STATS_PII_KEY_BLOCK to the name of a "
            "Prefect Secret block holding it (the demo uses a built-in development key)."
        )


class MissingSettingError(RuntimeError):
    """A required setting is absent; the CLI maps it to exit code 2."""


class FolderError(MissingSettingError):
    """A configured folder cannot be created."""


class SecretBlockError(MissingSettingError):
    """A Prefect Secret block named by the settings cannot be loaded or holds no usable value.

    The message names the variable and the block, never the value.
    """

    def __init__(self, variable: str, block: str, problem: str, *, missing: bool = False) -> None:
        self.variable, self.block = variable, block
        fix = "create it (docs/security.md) or fix the name, or" if missing else "or"
        super().__init__(
            f"{variable} names the Prefect Secret block {block!r}, which {problem}; "
            f"{fix} set {variable.removesuffix('_BLOCK')} instead."
        )


def env_name(field: str) -> str:
    """The environment variable of a settings field (`pii_key` -> `BUREAU_STATS_PII_KEY`)."""
    return f"{ENV_PREFIX}{field.upper()}"


# How a named Secret block is read: installed by the layer that knows Prefect
# (`tasks.secret_blocks.install`, called where a command or flow run starts), so this module
# never imports Prefect. (block, variable naming it, refresh) -> its value.
BlockLoader = Callable[[str, str, bool], SecretStr]
_block_loader: BlockLoader | None = None


def use_block_loader(loader: BlockLoader | None) -> None:
    """Install how Secret blocks are read (None: no loader, a named block is an error)."""
    global _block_loader
    _block_loader = loader


def _load_block(block: str, variable: str, *, refresh: bool = False) -> SecretStr:
    if _block_loader is None:
        raise SecretBlockError(
            variable, block, "cannot be read: this process has no Prefect Secret-block loader"
        )
    return _block_loader(block, variable, refresh)


def load_settings(**overrides: object) -> Settings:
    """Read the environment now; options given on the command line win."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
