"""The JSON reader: the records of a JSON envelope as a table of text cells.

A JSON export is one object holding the records list (and, for some sources, the record
count it declares); a key given twice in one object has two readings and refuses the file.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from connectors.raw_table import FileRejected, RawTable
from connectors.sources import Source
from connectors.values import float_texts, normalize_text


def _whole_number(value: object) -> int | None:
    """A record count as exporters write it: `40`, `40.0` or `"40"`; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: a key given twice has two readings."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def json_records(data: bytes, source: Source) -> tuple[pd.DataFrame, int | None]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected("encoding", f"JSON export is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise FileRejected("empty", "the file is empty")
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        # Only names the contract knows are quoted: another key could be anyone's data.
        known = {source.json_records, source.json_total, *(c.header for c in source.columns)}
        key = repr(exc.key) if exc.key in known else "a key"
        raise FileRejected(
            "unreadable", f"{key} is given twice in one JSON object: two readings of the export"
        ) from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) - 1:
            raise FileRejected("truncated", "the JSON document ends early") from None
        raise FileRejected("unreadable", f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise FileRejected("unreadable", "JSON nested too deeply") from None
    if not isinstance(document, dict) or not isinstance(document.get(source.json_records), list):
        raise FileRejected("unreadable", f"expected an object with a {source.json_records!r} list")
    records = document[source.json_records]
    total: int | None = None
    if source.json_total:
        total = _whole_number(document.get(source.json_total))
        if total is None:
            raise FileRejected("truncated", f"no integer {source.json_total!r} in the export")
    if not all(isinstance(r, dict) for r in records):
        raise FileRejected("unreadable", "a record is not a JSON object")
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    cells = {str(name): _column_text(frame[name]) for name in frame.columns}
    return pd.DataFrame(cells, index=frame.index), total


def _column_text(col: pd.Series) -> pd.Series:
    """`_json_cell_text` of each present cell, "" for a missing one; a column of one JSON type
    (what pandas inferred: all strings, all integers, all numbers) a column at a time."""
    present = col.notna()
    text_col = pd.Series("", index=col.index, dtype="str")
    if not present.any():
        return text_col
    dtype = col.dtype
    if isinstance(dtype, pd.StringDtype):
        text_col[present] = col[present]
    elif pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        text_col[present] = col[present].astype("str")
    elif pd.api.types.is_float_dtype(dtype) and isinstance(dtype, np.dtype):
        texts = float_texts(col[present].to_numpy())
        text_col[present] = texts.to_numpy(zero_copy_only=False)
    else:
        text_col[present] = [_json_cell_text(v) for v in col[present].tolist()]
    return text_col


def _json_cell_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def json_table(frame: pd.DataFrame, total: int | None, source: Source) -> RawTable:
    """The declared keys of the records (`json_records`) as data rows, numbered from 1."""
    missing = [c.header for c in source.columns if c.header not in frame.columns]
    if len(frame) == 0:
        if total:
            raise FileRejected("truncated", f"'total' says {total} records, found 0")
        raise FileRejected("empty", "no records")
    if missing:
        raise FileRejected("missing_column", "missing keys in every record: " + ", ".join(missing))
    raw = pd.DataFrame({c.field: frame[c.header] for c in source.columns})
    norm = pd.DataFrame({c.field: normalize_text(raw[c.field]) for c in source.columns})
    return RawTable(
        raw=raw.reset_index(drop=True),
        normalized=norm.reset_index(drop=True),
        lines=np.arange(1, len(raw) + 1),
    )
