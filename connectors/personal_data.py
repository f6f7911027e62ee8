"""Personal-data rules (PIPL, contract rule 7): hash identity numbers, mask names.

Applied before anything is written: to accepted rows and to the raw cells of rejected rows.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import pandas as pd

_RESIDENT_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def hash_identifier(value: str, key: bytes) -> str:
    """Keyed hash so repeat parties can be linked without the number in clear."""
    normalized = value.strip().upper()
    return hmac.new(key, normalized.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_identifiers(values: pd.Series, key: bytes) -> pd.Series:
    out = values.astype(object).copy()
    present = values.notna()
    out[present] = [hash_identifier(v, key) for v in values[present].tolist()]
    return out


def mask_name(name: str) -> str:
    """`张三丰` -> `张**`: first character plus `*` per remaining character."""
    return name[:1] + "*" * (len(name) - 1)


def mask_names(values: pd.Series) -> pd.Series:
    out = values.astype(object).copy()
    present = values.notna()
    out[present] = [mask_name(v) for v in values[present].tolist()]
    return out


def mask_within(texts: pd.Series, names: pd.Series) -> pd.Series:
    """Mask each row's name where it also appears inside another text field of the row."""
    out = texts.astype(object).copy()
    both = texts.notna() & names.notna()
    out[both] = [
        t.replace(n, mask_name(n)) if n else t
        for t, n in zip(texts[both].tolist(), names[both].tolist(), strict=True)
    ]
    return out


def scrub_resident_ids(text: str, key: bytes) -> str:
    """Last line of defence for free text (raw rejected cells, messages): hash anything
    shaped like a resident ID."""
    return _RESIDENT_ID_LIKE.sub(lambda m: "hmac:" + hash_identifier(m.group(0), key)[:16], text)


def scrub_resident_ids_in(texts: pd.Series, key: bytes) -> pd.Series:
    """`scrub_resident_ids` over a column, looking only at cells with 17 digits in a row."""
    candidates = texts.notna() & texts.astype("str").str.contains(r"\d{17}", regex=True, na=False)
    if not candidates.any():
        return texts
    out = texts.astype(object).copy()
    out[candidates] = [scrub_resident_ids(t, key) for t in texts[candidates].tolist()]
    return out
