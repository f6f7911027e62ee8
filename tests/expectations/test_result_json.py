"""gx_compat.result_json writes a stored validation result exactly as GX's store would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connectors.batch import ExtractedBatch
from connectors.sources import SOURCES
from expectations import gx_compat
from expectations.audit import RESULTS_STORE, audit_batch, gx_context
from expectations.gx_compat import result_json

MakeBatch = Callable[..., ExtractedBatch]


@pytest.fixture(autouse=True)
def gx_mode() -> Iterator[str]:
    """The shortcut exists only where gx_compat is active."""
    gx_compat.configure(True)
    yield "compat"
    gx_compat.configure(None)


@pytest.fixture()
def compared(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each stored result: its text is compared with the store's own serializer."""
    seen: list[str] = []
    real = result_json.store_result

    def spy(store: Any, key: Any, result: Any) -> None:
        before = store.serialize(result)
        assert result_json.result_json(result) == before
        real(store, key, result)
        assert store.serialize(result) == before  # the result was not changed
        seen.append(before)

    monkeypatch.setattr(result_json, "store_result", spy)
    return seen


def _text_in_int(f: pd.DataFrame) -> None:
    f["units"] = f["units"].astype(object)
    f.loc[0, "units"] = "not a number"


def _swap(f: pd.DataFrame) -> None:
    f.loc[0, "applied_on"] = date(2024, 1, 20)
    f.loc[0, "approved_on"] = f.loc[0, "partition_date"] = date(2024, 1, 10)


CASES: list[tuple[str, dict[str, Any]]] = [
    *((code, {}) for code in sorted(SOURCES)),
    ("cases", {"n": 0}),
    ("cases", {"edit": lambda f: f.pop("title")}),
    ("special_equipment", {"edit": _text_in_int}),
    ("registration", {"edit": _swap}),
    ("registration", {"dates": "datetime64"}),
]


@pytest.mark.parametrize(("code", "kw"), CASES)
def test_stored_bytes_equal_the_stores_own(
    make_batch: MakeBatch, tmp_path: Path, compared: list[str], code: str, kw: dict[str, Any]
) -> None:
    outcome = audit_batch(
        make_batch(code, **kw),
        data_docs_dir=tmp_path,
        threshold=Decimal("0.05"),
        build_docs=False,
        today=date(2024, 1, 5),
    )
    assert len(compared) == 1
    assert Path(outcome.result_path or "").read_text(encoding="utf-8") == compared[0]
    store = gx_context(tmp_path).stores[RESULTS_STORE]
    (key,) = store.list_keys()
    back = store.get(key)  # GX reads it back
    assert back.statistics["evaluated_expectations"] == outcome.statistics["evaluated_expectations"]


def test_public_api_mode_uses_the_store(
    make_batch: MakeBatch, tmp_path: Path, compared: list[str]
) -> None:
    gx_compat.configure(False)
    outcome = audit_batch(make_batch("cases"), data_docs_dir=tmp_path, build_docs=False)
    assert compared == [] and Path(outcome.result_path or "").exists()
