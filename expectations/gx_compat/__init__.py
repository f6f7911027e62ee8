"""Everything the audit takes from Great Expectations' internals, in one place, version-guarded.

The audit is GX's public API (a context, suites, `ValidationDefinition`, a results store, Data
Docs) plus, on the GX versions listed in `TESTED`, these shortcuts that reach into GX:

- `fast_run`: the suite runs through GX's `Validator` with patched GX functions (remembered
  configurations and metric ids, no frame fingerprint), and GX's per-asset caches are dropped
  after each run; the result is `ValidationDefinition.run`'s, field for field.
- `chunks`: a file larger than a chunk is validated chunk by chunk and the results merged with
  GX's own map-expectation arithmetic, re-implemented (one chunk frame in memory, not the file).
- `result_json`: a result is written to the results store as the store's own serializer
  writes it, byte for byte, without its deep copy and second schema pass.

Elsewhere (another GX version, or `BUREAU_STATS_GX_COMPAT=off`) the audit calls
`ValidationDefinition.run` on the whole file: the same verdicts, accounting and stored results,
slower and with the whole file as one frame in memory. The switch is per process (the patches
are), read from the environment so that worker processes inherit it; `configure` overrides it.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from expectations.gx_compat import fast_run, result_json

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.core.validation_definition import ValidationDefinition
    from great_expectations.data_context import EphemeralDataContext
    from great_expectations.datasource.fluent import PandasDatasource

log = logging.getLogger(__name__)

# GX release lines whose internals the shortcuts were tested against (version prefixes).
TESTED = ("1.24.",)
SETTING = "BUREAU_STATS_GX_COMPAT"
_ON = frozenset({"on", "true", "t", "1", "yes", "y"})  # as pydantic reads a bool
_OFF = frozenset({"off", "false", "f", "0", "no", "n"})

_override: bool | None = None
_warned: set[str] = set()


class SettingError(ValueError):
    """BUREAU_STATS_GX_COMPAT holds something other than on or off."""


def parse(value: str | None) -> bool:
    """The setting's value: on (the default) or off."""
    if value is None or not value.strip():
        return True
    word = value.strip().lower()
    if word in _ON or word in _OFF:
        return word in _ON
    raise SettingError(f"{SETTING} must be on or off, not {value!r}")


def configure(enabled: bool | None) -> None:
    """Switch the shortcuts on or off in this process (None: back to the setting)."""
    global _override
    _override = enabled


def wanted() -> bool:
    """Whether the shortcuts are asked for (`configure`, else BUREAU_STATS_GX_COMPAT)."""
    return parse(os.environ.get(SETTING)) if _override is None else _override


def tested(version: str) -> bool:
    return version.startswith(TESTED)


def gx_version() -> str:
    import great_expectations

    return str(great_expectations.__version__)


def active() -> bool:
    """Whether the audit takes the shortcuts now: asked for, and this GX is a tested one."""
    if not wanted():
        return False
    version = gx_version()
    if tested(version):
        return True
    if version not in _warned:
        _warned.add(version)
        log.warning(
            "Great Expectations %s is not a tested version (%s): the audit uses GX's public "
            "API only (slower, whole files in memory)",
            version,
            ", ".join(f"{v}x" for v in TESTED),
        )
    return False


def chunk_rows(requested: int) -> int | None:
    """Rows per validated chunk, or None when a file must be validated as one frame."""
    return requested if active() else None


def validate(
    context: EphemeralDataContext,
    datasource: PandasDatasource,
    definition: ValidationDefinition,
    frame: pd.DataFrame,
    parameters: dict[str, Any],
    result_format: dict[str, Any],
    run_id: RunIdentifier,
) -> ExpectationSuiteValidationResult:
    """`definition.run` over `frame`, nothing kept in GX's own stores or caches afterwards."""
    if active():
        fast_run.install()
        try:
            return fast_run.validate_frame(definition, frame, parameters, result_format, run_id)
        finally:
            fast_run.forget_batch_data(datasource)
    fast_run.uninstall()
    transient = context.validation_results_store
    try:
        return definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=parameters,
            result_format=result_format,
            run_id=run_id,
        )
    finally:
        # `run` also keeps the raw (unscrubbed) result in memory: drop it.
        for key in transient.list_keys():
            transient.remove_key(key)


def store_result(store: Any, key: Any, result: ExpectationSuiteValidationResult) -> None:
    """`store.set(key, result)`: the same file, written by `result_json` where it is tested."""
    if active():
        result_json.store_result(store, key, result)
    else:
        store.set(key, result)
