"""The JSON reader's cell texts: a column at a time where pandas gave it one JSON type, with
exactly the text the per-cell rule (`_json_cell_text`) gives each cell."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from connectors.json_reader import _json_cell_text, json_records
from connectors.sources import SOURCES

AWKWARD = [
    {"int": 1, "float": 1.5, "text": "x", "flag": True, "big": 10**17, "zero": -0.0,
     "whole": 3.0, "none": None, "nested": [1], "tiny": 1e300, "huge": 2**63 + 5},
    {"int": -7, "float": None, "text": None, "flag": False, "big": 2, "zero": 1e16,
     "whole": 9.999999999999999e15, "none": None, "nested": {"x": 1}, "tiny": -2.5e-7, "huge": 1},
    {"int": 0, "float": 2.0, "text": "", "big": -3, "zero": float("nan"),
     "whole": 123456789012345.0, "nested": "s", "tiny": 7.0, "huge": -1},
]  # fmt: skip


def per_cell(records: list[dict[str, object]]) -> dict[str, list[str]]:
    """Each record's cell as the per-cell rule spells it, "" where the key is missing or null."""
    names = dict.fromkeys(k for r in records for k in r)
    out: dict[str, list[str]] = {}
    for name in names:
        out[name] = []
        for r in records:
            v = r.get(name)
            missing = v is None or (isinstance(v, float) and v != v)
            out[name].append("" if missing else _json_cell_text(v))
    return out


@pytest.mark.parametrize("order", [1, -1])
def test_each_cell_reads_as_the_per_cell_rule_spells_it(order: int) -> None:
    records = AWKWARD[::order]
    data = json.dumps({"total": len(records), "records": records}).encode()
    frame, total = json_records(data, SOURCES["special_equipment"])
    assert total == len(records)
    got = {name: frame[name].tolist() for name in frame.columns}
    assert got == per_cell(records)
    assert all(isinstance(frame[name].dtype, pd.StringDtype) for name in frame.columns)
    # the typed columns were spelled as JSON wrote them, not as pandas would print them
    assert got["big"][0 if order == 1 else 2] == "100000000000000000"
    assert got["whole"][0 if order == 1 else 2] == "3"
    assert got["float"][0 if order == 1 else 2] == "1.5"
