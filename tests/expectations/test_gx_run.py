"""The shortcut around ValidationDefinition.run (gx_compat.fast_run) gives GX's own result,
field for field, and gives GX back untouched when uninstalled."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import great_expectations.expectations as gxe
import pandas as pd
import pytest
from great_expectations.core.run_identifier import RunIdentifier

from connectors.batch import ExtractedBatch
from connectors.sources import SOURCES, get_source
from expectations import audit, gx_compat
from expectations.gx_compat import fast_run as gx_run

MakeBatch = Callable[..., ExtractedBatch]


@pytest.fixture(autouse=True)
def gx_mode() -> Iterator[str]:
    """These tests are about the shortcuts themselves: compatibility module on."""
    gx_compat.configure(True)
    yield "compat"
    gx_compat.configure(None)


def _both(batch: ExtractedBatch, docs: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The result of GX's `ValidationDefinition.run` and of `validate_frame`, as JSON."""
    source = get_source(batch.source)
    ctx = audit._get_context(docs)
    definition = audit._get_validation(ctx, source, Decimal("0.05"))
    frame = audit.validation_frame(source, batch.accepted)
    params = audit.suite_parameters(date(2024, 1, 1), date(2024, 1, 31), date(2024, 12, 1))
    run_id = RunIdentifier(run_name="r", run_time=datetime(2024, 12, 1, tzinfo=UTC))
    theirs = definition.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=params,
        result_format=audit.RESULT_FORMAT,
        run_id=run_id,
    )
    ours = gx_run.validate_frame(definition, frame, params, audit.RESULT_FORMAT, run_id)
    pair = theirs.to_json_dict(), ours.to_json_dict()
    for result in pair:  # when GX loaded the frame: the only field that differs between runs
        assert result["meta"]["batch_markers"].pop("ge_load_time")
    return pair


def _duplicate_key(f: pd.DataFrame) -> None:
    f.loc[1, "txn_id"] = f.loc[0, "txn_id"]


def _text_in_int(f: pd.DataFrame) -> None:  # makes one expectation raise inside GX
    f["units"] = f["units"].astype(object)
    f.loc[0, "units"] = "not a number"


@pytest.mark.parametrize("code", sorted(SOURCES))
def test_same_result_as_validation_definition_run(
    make_batch: MakeBatch, tmp_path: Path, code: str
) -> None:
    theirs, ours = _both(make_batch(code, 12), tmp_path)
    assert theirs["success"] is True
    assert ours == theirs


@pytest.mark.parametrize(
    ("code", "edit"), [("registration", _duplicate_key), ("special_equipment", _text_in_int)]
)
def test_same_result_when_expectations_fail_or_raise(
    make_batch: MakeBatch, tmp_path: Path, code: str, edit: Callable[[pd.DataFrame], None]
) -> None:
    theirs, ours = _both(make_batch(code, edit=edit), tmp_path)
    assert theirs["success"] is False
    assert ours == theirs


def test_gx_store_is_left_empty(make_batch: MakeBatch, tmp_path: Path) -> None:
    audit.audit_batch(make_batch("registration"), data_docs_dir=tmp_path, build_docs=False)
    store = audit.gx_context(tmp_path).validation_results_store
    assert store.list_keys() == []


def test_configurations_are_remembered_only_inside_the_block() -> None:
    gx_run.install()
    expectation = gxe.ExpectColumnValuesToNotBeNull(column="a")
    assert expectation.configuration is not expectation.configuration
    with gx_run.remembering_configurations():
        first = expectation.configuration
        assert expectation.configuration is first
        other = gxe.ExpectColumnValuesToNotBeNull(column="b")
        assert other.configuration is not first
        assert other.configuration.kwargs["column"] == "b"
    expectation.column = "c"  # changed after the block: seen at once
    assert expectation.configuration.kwargs["column"] == "c"


def test_install_is_idempotent_and_uninstall_gives_gx_back() -> None:
    from great_expectations.core.id_dict import IDDict
    from great_expectations.execution_engine import pandas_execution_engine
    from great_expectations.expectations import expectation as gx_expectation

    gx_run.uninstall()

    def gx_own() -> tuple[Any, ...]:
        return (
            gxe.Expectation.__dict__["configuration"],
            IDDict.__dict__["to_id"],
            gx_expectation.camel_to_snake,
            pandas_execution_engine.HASH_THRESHOLD,
        )

    original = gx_own()
    assert original[3] > 0  # GX fingerprints frames by default
    gx_run.install()
    installed = gx_own()
    assert all(a is not b for a, b in zip(installed[:3], original[:3], strict=True))
    assert installed[3] == 0
    gx_run.install()
    assert gx_own() == installed
    gx_run.uninstall()
    assert gx_own() == original
    assert not gx_run.installed()
    gx_run.uninstall()
    assert gx_own() == original


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (0.0, -0.0),
        (1, True),
        (1, 1.0),
        (["a", "b"], ("a", "b")),
        (["a", "b"], ["b", "a"]),
        ({"x": [1, "1"]}, {"x": [1, 1]}),
        ({"x": None}, {"y": None}),
    ],
)
def test_frozen_values_differ_when_their_json_or_types_do(a: Any, b: Any) -> None:
    assert gx_run.frozen(a) != gx_run.frozen(b)


def test_frozen_values_ignore_key_order_and_refuse_what_is_not_json_like() -> None:
    assert gx_run.frozen({"a": 1, "b": [2.5, "x"]}) == gx_run.frozen({"b": [2.5, "x"], "a": 1})
    for odd in ({1: "a"}, {"a": object()}, [Decimal("1")], b"a"):
        with pytest.raises(gx_run._NotJsonLike):
            gx_run.frozen(odd)


def test_metric_ids_are_computed_once_per_kwargs_inside_the_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from great_expectations.core import id_dict

    gx_run.install()
    kwargs = [
        {"column": "uscc", "batch_id": "b", "row_condition": None},
        {"value_set": ["个体工商户", "企业"], "mostly": 0.95, "parse": False},
        {"min_value": "2024-01-01", "max_value": "2024-01-31", "strict": {"lo": -0.0}},
        {"min_value": "2024-01-01", "max_value": "2024-01-31", "strict": {"lo": 0.0}},
        {"decimal": Decimal("1.5"), "column": "x"},  # not JSON-like: computed every time
    ]
    expected = [id_dict.IDDict(k).to_id() for k in kwargs]  # outside the block: GX's own
    assert len(set(expected)) == len(expected)
    serialized: list[object] = []
    convert = id_dict.convert_to_json_serializable

    def counting(data: Any) -> Any:
        serialized.append(data)
        return convert(data)

    monkeypatch.setattr(id_dict, "convert_to_json_serializable", counting)
    with gx_run.remembering_configurations():
        for _ in range(3):
            assert [id_dict.IDDict(k).to_id() for k in kwargs] == expected
    assert len(serialized) == len(kwargs) + 2  # the Decimal one three times, the rest once
    serialized.clear()
    assert id_dict.IDDict(kwargs[0]).to_id() == expected[0]
    assert len(serialized) == 1  # outside the block nothing is remembered
