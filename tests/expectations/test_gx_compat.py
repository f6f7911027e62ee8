"""The compatibility module: a setting and a version guard choose between GX's internals and its
public API, and both give the same verdicts and stored results."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connectors.batch import ExtractedBatch
from expectations import audit, gx_compat
from expectations.audit import AuditOutcome, audit_batch, build_data_docs
from expectations.gx_compat import chunks, fast_run

MakeBatch = Callable[..., ExtractedBatch]
CHUNK = 100


@pytest.fixture(autouse=True)
def gx_mode() -> Iterator[str]:
    """Each test here chooses its mode itself."""
    yield "chosen by the test"
    gx_compat.configure(None)


def _audit(batch: ExtractedBatch, docs: Path, chunk_rows: int = CHUNK) -> AuditOutcome:
    return audit_batch(
        batch,
        data_docs_dir=docs,
        threshold=Decimal("0.05"),
        build_docs=False,
        chunk_rows=chunk_rows,
    )


def _stored(outcome: AuditOutcome) -> dict[str, Any]:
    """The stored result without what differs between two runs (times, and ids GX draws at
    random for each context's suite)."""
    assert outcome.result_path is not None
    data = json.loads(Path(outcome.result_path).read_text(encoding="utf-8"))
    data.pop("id", None)
    for item in data["results"]:
        assert item["expectation_config"].pop("id")
    for key in ("run_id", "validation_time", "validation_id"):
        data["meta"].pop(key)
    data["meta"]["batch_markers"].pop("ge_load_time")
    return data


def _forbidden(*_: Any, **__: Any) -> Any:
    raise AssertionError("a GX internal was used on the public-API path")


@pytest.fixture()
def public_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any use of the module's shortcuts fails the test."""
    for name in ("install", "validate_frame", "forget_batch_data"):
        monkeypatch.setattr(fast_run, name, _forbidden)
    monkeypatch.setattr(audit, "merge_results", _forbidden)


@pytest.mark.parametrize(
    ("value", "on"),
    [(None, True), ("", True), ("on", True), ("TRUE", True), ("1", True), ("off", False)]
    + [(" Off ", False), ("false", False), ("0", False), ("no", False)],
)
def test_setting_is_on_or_off(value: str | None, on: bool) -> None:
    assert gx_compat.parse(value) is on


def test_setting_refuses_other_words() -> None:
    with pytest.raises(gx_compat.SettingError, match="BUREAU_STATS_GX_COMPAT must be on or off"):
        gx_compat.parse("sometimes")


def test_the_environment_turns_the_module_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUREAU_STATS_GX_COMPAT", "off")
    assert not gx_compat.wanted() and not gx_compat.active()
    assert gx_compat.chunk_rows(CHUNK) is None
    monkeypatch.setenv("BUREAU_STATS_GX_COMPAT", "on")
    assert gx_compat.active() and gx_compat.chunk_rows(CHUNK) == CHUNK
    gx_compat.configure(False)  # an explicit choice wins over the environment
    assert not gx_compat.active()


def test_the_installed_gx_is_the_tested_one() -> None:
    """The pin in pyproject.toml and the guard agree (else the shortcuts never run)."""
    assert gx_compat.tested(gx_compat.gx_version())
    assert not gx_compat.tested("1.25.0") and not gx_compat.tested("1.2.4")


@pytest.mark.usefixtures("public_only")
def test_public_api_path_uses_no_internals(make_batch: MakeBatch, tmp_path: Path) -> None:
    gx_compat.configure(False)
    fast_run.uninstall()
    good = _audit(make_batch("registration", 450), tmp_path)
    assert good.success and good.statistics["rows"] == 450
    bad = _audit(make_batch("registration", 450, edit=_key_repeated_in_two_chunks), tmp_path)
    assert not bad.success
    assert not fast_run.installed()
    assert audit.gx_context(tmp_path).validation_results_store.list_keys() == []
    assert build_data_docs(tmp_path).exists()


@pytest.mark.usefixtures("public_only")
def test_untested_gx_version_falls_back_to_public_api(
    make_batch: MakeBatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    gx_compat.configure(True)
    monkeypatch.setattr(gx_compat, "gx_version", lambda: "1.99.0")
    with caplog.at_level(logging.WARNING, logger="expectations.gx_compat"):
        outcome = _audit(make_batch("cases", 250), tmp_path)
        _audit(make_batch("cases", 250), tmp_path)
    assert outcome.success
    warned = [r.getMessage() for r in caplog.records if "1.99.0" in r.getMessage()]
    assert warned == [
        "Great Expectations 1.99.0 is not a tested version (1.24.x): the audit uses GX's "
        "public API only (slower, whole files in memory)"
    ]


def _key_repeated_in_two_chunks(f: pd.DataFrame) -> None:
    f.loc[400, "txn_id"] = f.loc[5, "txn_id"]


def _channel_share_over_file(f: pd.DataFrame) -> None:
    f.loc[100:130, "channel"] = "其他渠道"  # 31 of 450 rows: 6.9 % > 5 %


def _channel_share_in_one_chunk(f: pd.DataFrame) -> None:
    f.loc[100:115, "channel"] = "其他渠道"  # 16 % of one chunk, 3.6 % of the file


def _text_in_int(f: pd.DataFrame) -> None:  # one expectation raises inside GX
    f["units"] = f["units"].astype(object)
    f.loc[300, "units"] = "not a number"


@pytest.mark.parametrize(
    ("code", "edit"),
    [
        ("registration", None),
        ("registration", _key_repeated_in_two_chunks),
        ("registration", _channel_share_over_file),
        ("registration", _channel_share_in_one_chunk),
        ("special_equipment", _text_in_int),
        ("ip_stats", None),
    ],
)
def test_chunked_with_internals_equals_whole_on_public_api(
    make_batch: MakeBatch,
    tmp_path: Path,
    merges: list[int],
    code: str,
    edit: Callable[[pd.DataFrame], None] | None,
) -> None:
    """The same verdict, failure lines, statistics and stored result either way."""
    batch = make_batch(code, 450, edit=edit)
    gx_compat.configure(True)
    compat = _audit(batch, tmp_path / "compat")
    assert merges == [5] and fast_run.installed()
    gx_compat.configure(False)
    public = _audit(batch, tmp_path / "public")
    assert merges == [5] and not fast_run.installed()
    assert (compat.success, compat.failures, compat.warnings, compat.statistics) == (
        public.success,
        public.failures,
        public.warnings,
        public.statistics,
    )
    assert _stored(compat) == _stored(public)
    if edit is not None and edit is not _channel_share_in_one_chunk:
        assert compat.failures


def test_chunk_arithmetic_is_in_the_module() -> None:
    """The audit takes GX's arithmetic from the compatibility module, not a copy of its own."""
    assert audit.merge_results is chunks.merge_results
    assert not hasattr(audit, "map_outcome") and not hasattr(audit, "uniqueness_counts")


@pytest.mark.parametrize("word", sorted(gx_compat._ON | gx_compat._OFF) + ["maybe"])
def test_the_settings_object_reads_the_variable_as_the_module_does(
    word: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import ValidationError

    from bureau_stats.settings import Settings

    monkeypatch.setenv("BUREAU_STATS_GX_COMPAT", word)
    try:
        ours: bool | None = gx_compat.parse(word)
    except gx_compat.SettingError:
        ours = None
    try:
        theirs: bool | None = Settings().gx_compat
    except ValidationError:
        theirs = None
    assert ours == theirs
    assert (ours is None) == (word == "maybe")


# GX modules the rest of the project may import: its documented public API.
PUBLIC_GX = frozenset(
    {
        "great_expectations",
        "great_expectations.core",
        "great_expectations.core.run_identifier",
        "great_expectations.core.validation_definition",
        "great_expectations.data_context",
        "great_expectations.data_context.types.base",
        "great_expectations.data_context.types.resource_identifiers",
        "great_expectations.datasource.fluent",
        "great_expectations.expectations",
    }
)


PACKAGES = ("bureau_stats", "connectors", "expectations", "warehouse", "metrics", "report")
PACKAGES += ("tasks", "flows", "bench", "demo_data")


def _gx_imports(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("great_expectations")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "great_expectations"
        ):
            found.add(str(node.module))
    return found


def test_gx_internals_are_imported_only_by_the_compatibility_module() -> None:
    root = Path(__file__).resolve().parents[2]
    compat = root / "expectations" / "gx_compat"
    outside: dict[str, set[str]] = {}
    inside: set[str] = set()
    for folder in PACKAGES:
        for path in (root / folder).rglob("*.py"):
            modules = _gx_imports(path)
            if path.is_relative_to(compat):
                inside |= modules
            elif modules - PUBLIC_GX:
                outside[str(path.relative_to(root))] = modules - PUBLIC_GX
    assert outside == {}
    assert "great_expectations.validator.v1_validator" in inside  # the scan sees imports
