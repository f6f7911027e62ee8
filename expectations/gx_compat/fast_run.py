"""Running a GX 1.24 validation without its per-file overhead, with the same result.

Everything here reaches into GX internals; `gx_compat` uses it only on the GX versions it was
tested on, and `uninstall` puts GX back as it was (the public-API path runs unpatched GX).

Great Expectations' fixed cost per validated file was most of a small run (≈ 0.2–0.46 s a file,
over 100 files a year per district). Four parts of it do no work for us:

- GX fingerprints every frame under 1 GB (`HASH_THRESHOLD`; an md5 over all cells): about half
  the audit time on 1M rows, and a digest of personal data the audit only scrubs again.
- `ValidationDefinition.run` checks its stores for freshness and stores every result in the
  context's in-memory results store (a full serialization per file), which the audit then
  deleted: `validate_frame` runs the same `Validator` and sets the same `meta` itself.
- `Expectation.configuration` rebuilds a configuration object from the pydantic model on every
  access (a dozen times per metric per expectation, ~3,000 times per file): inside
  `remembering_configurations()` each expectation builds it once. Expectations are not changed
  while a suite runs; outside that block nothing is remembered.
- Every metric configuration's id is an md5 of its kwargs serialized to JSON (`IDDict.to_id`,
  ~1,000 times per validated chunk for some 25 distinct kwargs): inside the same block an id
  is computed once per distinct JSON-like value (a third of GX's function calls per chunk).

The audit's tests compare every stored field with a `ValidationDefinition.run` result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.core.validation_definition import ValidationDefinition

# id(expectation) -> (expectation, its configuration); the expectation is kept so that its id
# cannot be reused by another object while the block runs.
_REMEMBERED: ContextVar[dict[int, tuple[object, Any]] | None] = ContextVar(
    "gx_remembered_configurations", default=None
)
# (IDDict class, ignored keys, frozen kwargs) -> the id `IDDict.to_id` gives them
_IDS: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("gx_remembered_ids", default=None)
# (owner, attribute) -> GX's own value, kept while patched (restored by `uninstall`)
_ORIGINALS: dict[tuple[Any, str], Any] = {}
_SCALARS = frozenset({str, int, bool, type(None)})
_MAPPINGS: set[type] = {dict}  # and GX's IDDict, once installed


class _NotJsonLike(Exception):
    """A value `frozen` has no exact hashable stand-in for (its id is computed as usual)."""


def frozen(value: Any) -> tuple[Any, ...]:
    """A hashable stand-in for a JSON-like value: two values get equal stand-ins only when
    they have the same types all the way down and the same JSON (floats are compared by
    `repr`, so 0.0 and -0.0 stay apart). Anything else raises `_NotJsonLike`."""
    kind = type(value)
    if kind in _SCALARS:
        return (kind, value)
    if kind is float:
        return (kind, repr(value))
    if kind is list or kind is tuple:
        if set(map(type, value)) <= {str}:
            return (kind, tuple(value))
        return (kind, tuple(map(frozen, value)))
    if kind in _MAPPINGS:
        if not set(map(type, value)) <= {str}:
            raise _NotJsonLike
        return (dict, tuple(sorted((k, frozen(v)) for k, v in value.items())))
    raise _NotJsonLike


def _patch(owner: Any, name: str, value: Any) -> None:
    key = (owner, name)
    if key not in _ORIGINALS:
        _ORIGINALS[key] = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)


def installed() -> bool:
    return bool(_ORIGINALS)


def install() -> None:
    """Patch GX once per process (idempotent; undone by `uninstall`)."""
    if installed():
        return
    from great_expectations.core.id_dict import IDDict
    from great_expectations.execution_engine import pandas_execution_engine
    from great_expectations.expectations import expectation as gx_expectation

    _patch(pandas_execution_engine, "HASH_THRESHOLD", 0)
    # The type name comes from the class name through a regex, tens of thousands of times per
    # suite run; the function is pure.
    _patch(gx_expectation, "camel_to_snake", lru_cache(maxsize=None)(gx_expectation.camel_to_snake))
    _MAPPINGS.add(IDDict)
    _patch(IDDict, "to_id", _remembering_to_id(IDDict.to_id))
    built = gx_expectation.Expectation.__dict__["configuration"]
    _patch(gx_expectation.Expectation, "configuration", property(_remembering(built.fget)))


def uninstall() -> None:
    """Give GX back its own functions and constants (idempotent)."""
    for (owner, name), value in reversed(list(_ORIGINALS.items())):
        setattr(owner, name, value)
    _ORIGINALS.clear()


def _remembering(build: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def configuration(self: object) -> Any:
        memo = _REMEMBERED.get()
        if memo is None:
            return build(self)
        hit = memo.get(id(self))
        if hit is None:
            hit = memo[id(self)] = (self, build(self))
        return hit[1]

    configuration.__doc__ = build.__doc__
    return configuration


def _remembering_to_id(compute: Callable[..., Any]) -> Callable[..., Any]:
    def to_id(self: Any, id_keys: Any = None, id_ignore_keys: Any = None) -> Any:
        memo = _IDS.get()
        if memo is None or id_keys is not None or id_ignore_keys is not None:
            return compute(self, id_keys, id_ignore_keys)
        try:
            key = (type(self), frozenset(self._id_ignore_keys), frozen(self))
        except _NotJsonLike:
            return compute(self)
        if key not in memo:
            memo[key] = compute(self)
        return memo[key]

    to_id.__doc__ = compute.__doc__
    return to_id


@contextmanager
def remembering_configurations() -> Iterator[None]:
    """Within the block, each expectation's configuration is built once, and each metric
    configuration id computed once per distinct kwargs."""
    token = _REMEMBERED.set({})
    ids = _IDS.set({})
    try:
        yield
    finally:
        _IDS.reset(ids)
        _REMEMBERED.reset(token)


def validate_frame(
    definition: ValidationDefinition,
    frame: pd.DataFrame,
    parameters: dict[str, Any],
    result_format: dict[str, Any],
    run_id: RunIdentifier,
) -> ExpectationSuiteValidationResult:
    """What `definition.run(batch_parameters={"dataframe": frame}, ...)` returns, without
    storing the result in GX's own results store."""
    from great_expectations.constants import DATAFRAME_REPLACEMENT_STR
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(
        batch_definition=definition.batch_definition,
        batch_parameters={"dataframe": frame},
        result_format=result_format,
    )
    with remembering_configurations():
        result = validator.validate_expectation_suite(definition.suite, parameters)
    result.meta["validation_id"] = definition.id
    result.meta["checkpoint_id"] = None
    result.meta["run_id"] = run_id
    result.meta["validation_time"] = run_id.run_time
    result.meta["batch_parameters"] = {"dataframe": DATAFRAME_REPLACEMENT_STR}
    return result


def forget_batch_data(datasource: Any) -> None:
    """GX's pandas engine keeps the last frame validated for each asset, and every metric
    computed on it (row-long boolean series), until that asset is validated again: drop them
    after each run, so a validated chunk is freed before the next one is built."""
    engine = datasource.get_execution_engine()
    engine.batch_manager.reset_batch_cache()
    metric_cache = getattr(engine, "_metric_cache", None)
    if isinstance(metric_cache, dict):
        metric_cache.clear()
