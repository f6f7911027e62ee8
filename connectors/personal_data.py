"""Personal-data rules (PIPL, contract rule 7): hash identity numbers, mask names.

Applied before anything is written: to accepted rows and to the raw cells of rejected rows.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from connectors.values import string_array

# The first 17 digits and an X, or any run of 15 digits or more (the whole run is hashed);
# ASCII or full-width digits (a raw cell is as typed).
_DIGIT = "[0-9\uff10-\uff19]"
_ID_SHAPED = re.compile(f"{_DIGIT}{{17}}[Xx\uff38\uff58]|{_DIGIT}{{15,}}")
_CANDIDATE = f"{_DIGIT}{{15}}"
_HMAC_TOKEN = re.compile(r"hmac:[0-9a-f]{16}")
_WORD = re.compile(r"\w+")
_TOKEN_OR_WORD = re.compile(r"(hmac:[0-9a-f]{16}|\w+)")


def hash_identifier(value: str, key: bytes) -> str:
    """Keyed hash so repeat parties can be linked without the number in clear."""
    normalized = unicodedata.normalize("NFKC", value.strip()).upper()
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


def _valid_uscc(token: str) -> bool:
    from connectors.identifiers import USCC_ALPHABET, uscc_check_char

    return (
        len(token) == 18
        and all(c in USCC_ALPHABET for c in token)
        and uscc_check_char(token[:17]) == token[17]
    )


def find_resident_ids(text: str) -> list[tuple[int, int]]:
    """Spans of resident-ID-shaped runs in `text`: 15 digits or more (old 15-digit numbers,
    18 with or without a valid check digit, 17-19-digit typos, longer runs holding one), or
    17 digits and an X, glued to anything. Never a valid USCC (an 18-character code of
    letters and digits standing alone)."""
    spans = []
    for m in _ID_SHAPED.finditer(text):
        a, b = m.span()
        ta, tb = a, b
        while ta > 0 and text[ta - 1].isascii() and text[ta - 1].isalnum():
            ta -= 1
        while tb < len(text) and text[tb].isascii() and text[tb].isalnum():
            tb += 1
        if tb - ta == 18 and _valid_uscc(text[ta:tb].upper()):
            continue
        spans.append((a, b))
    return spans


def id_token(found: str, key: bytes) -> str:
    """What stands in the text for an identity number found in it: `hmac:` + 16 hex."""
    return "hmac:" + hash_identifier(found, key)[:16]


def scrub_resident_ids(text: str, key: bytes) -> str:
    """Hash anything shaped like a resident ID in free text (`hmac:` + 16 hex)."""
    spans = find_resident_ids(text)
    for a, b in reversed(spans):
        text = text[:a] + id_token(text[a:b], key) + text[b:]
    return text


def id_candidates(texts: pd.Series) -> np.ndarray:
    """Cells holding 15 digits in a row, found by Arrow (RE2) without a Python string per
    cell: only those can hold a resident ID. The regex only runs on cells of 15 characters
    or more (most names and codes are shorter)."""
    arr = string_array(texts.astype("str"))  # a text column's own Arrow buffers
    long_enough = pc.fill_null(pc.greater_equal(pc.utf8_length(arr), 15), False)
    out = np.zeros(len(arr), dtype=bool)
    at = np.flatnonzero(long_enough.to_numpy(zero_copy_only=False))
    if len(at):
        hit = pc.match_substring_regex(arr.take(at), _CANDIDATE)
        out[at] = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    return out


def scrub_resident_ids_in(
    texts: pd.Series, key: bytes, skip: pd.Series | None = None
) -> tuple[pd.Series, pd.Series]:
    """`scrub_resident_ids` over a column (cells where `skip` holds are left alone), and the
    cells where something was found."""
    found = pd.Series(False, index=texts.index)
    candidates = id_candidates(texts)
    if skip is not None:
        candidates &= ~skip.to_numpy(dtype=bool)
    if not candidates.any():
        return texts, found
    out = texts.astype(object).copy()
    at = texts.index[candidates]
    old = [str(v) for v in texts[at].tolist()]
    new = [scrub_resident_ids(t, key) for t in old]
    out[at] = new
    found[at] = [a != b for a, b in zip(old, new, strict=True)]
    return out, found


def mask_party(cell: str) -> tuple[str, list[str]]:
    """A party cell that held an identity number names a natural person: every word of it
    besides the hashed number is masked as a name. Returns the cell and the names masked."""
    names: list[str] = []
    parts = _TOKEN_OR_WORD.split(cell)
    out = []
    for part in parts:
        if _HMAC_TOKEN.fullmatch(part) or not _WORD.fullmatch(part or " "):
            out.append(part)
        else:
            names.append(part)
            out.append(mask_name(part))
    return "".join(out), names
