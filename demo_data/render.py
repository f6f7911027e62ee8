"""How canonical values are spelled in the exports: every spelling the contract allows.

Each function maps canonical values to the text (or Excel cell value) an export would hold.
All variations here are *equivalent under the common value rules* of sources.md, so a row
rendered twice with different choices is still an exact duplicate after parsing.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from demo_data.codes import fullwidth

_M2 = np.array([f"{i:02d}" for i in range(13)], dtype=object)
_M1 = np.array([str(i) for i in range(13)], dtype=object)
_D2 = np.array([f"{i:02d}" for i in range(32)], dtype=object)
_D1 = np.array([str(i) for i in range(32)], dtype=object)

# Date spellings and their weights in a CSV export. The Excel writer adds real date cells.
DATE_STYLES = (
    "iso",  # 2024-01-05
    "slash",  # 2024/1/5
    "dot",  # 2024.01.05
    "dot_short",  # 2024.1.5
    "compact",  # 20240105
    "chinese",  # 2024年1月5日
    "iso_hm",  # 2024-01-05 08:30
    "iso_hms",  # 2024-01-05 08:30:00
    "fullwidth",  # ２０２４-０１-０５
)
CSV_DATE_WEIGHTS = np.array([0.62, 0.07, 0.06, 0.02, 0.06, 0.07, 0.03, 0.03, 0.04])
TIMES_HM = np.array(["08:30", "09:15", "10:02", "14:30", "16:45"], dtype=object)
TIMES_HMS = np.array(["08:30:00", "09:15:00", "11:20:45", "15:05:10"], dtype=object)


def date_parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day integer arrays of a datetime64[D] array."""
    d = dates.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y, m, day


def _years(y: np.ndarray) -> np.ndarray:
    uniq = np.unique(y)
    table = {int(v): str(int(v)) for v in uniq}
    lookup = np.array([table[int(v)] for v in uniq], dtype=object)
    return lookup[np.searchsorted(uniq, y)]


def format_dates(dates: np.ndarray, styles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Spell each date in the style given for it (an index into DATE_STYLES)."""
    n = len(dates)
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    y, m, d = date_parts(dates)
    ys = _years(y)
    iso = ys + "-" + _M2[m] + "-" + _D2[d]
    for k, style in enumerate(DATE_STYLES):
        sel = styles == k
        if not sel.any():
            continue
        if style == "iso":
            out[sel] = iso[sel]
        elif style == "slash":
            out[sel] = ys[sel] + "/" + _M1[m[sel]] + "/" + _D1[d[sel]]
        elif style == "dot":
            out[sel] = ys[sel] + "." + _M2[m[sel]] + "." + _D2[d[sel]]
        elif style == "dot_short":
            out[sel] = ys[sel] + "." + _M1[m[sel]] + "." + _D1[d[sel]]
        elif style == "compact":
            out[sel] = ys[sel] + _M2[m[sel]] + _D2[d[sel]]
        elif style == "chinese":
            out[sel] = ys[sel] + "年" + _M1[m[sel]] + "月" + _D1[d[sel]] + "日"
        elif style == "iso_hm":
            out[sel] = iso[sel] + " " + TIMES_HM[rng.integers(0, len(TIMES_HM), int(sel.sum()))]
        elif style == "iso_hms":
            t = TIMES_HMS[rng.integers(0, len(TIMES_HMS), int(sel.sum()))]
            out[sel] = iso[sel] + " " + t
        else:
            out[sel] = fullwidth(iso[sel])
    return out


def csv_dates(dates: np.ndarray, rng: np.random.Generator, plain_share: float = 0.0) -> np.ndarray:
    """Dates as a CSV export spells them; `plain_share` forces extra ISO spellings."""
    styles = rng.choice(len(DATE_STYLES), size=len(dates), p=CSV_DATE_WEIGHTS)
    if plain_share:
        styles[rng.random(len(dates)) < plain_share] = 0
    return format_dates(dates, styles, rng)


def excel_dates(dates: np.ndarray, rng: np.random.Generator, cell_share: float) -> np.ndarray:
    """Dates for an XLSX export: real date cells (datetime) or text spellings."""
    out = csv_dates(dates, rng)
    cells = rng.random(len(dates)) < cell_share
    if cells.any():
        y, m, d = date_parts(dates[cells])
        out[cells] = np.array(
            [datetime(int(a), int(b), int(c)) for a, b, c in zip(y, m, d, strict=True)],
            dtype=object,
        )
    return out


def spaced(values: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Some values with leading ASCII spaces or trailing ASCII / full-width (U+3000) spaces."""
    out = values.copy()
    hit = np.flatnonzero(rng.random(len(values)) < share)
    kinds = rng.integers(0, 4, len(hit))
    for i, k in zip(hit, kinds, strict=True):
        v = out[i]
        out[i] = (" " + v, v + "　", " " + v + " ", v + "  ")[k]
    return out


def maybe_fullwidth(values: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Some values with full-width digits and letters."""
    out = values.copy()
    hit = rng.random(len(values)) < share
    if hit.any():
        out[hit] = fullwidth(values[hit])
    return out


def synonyms(
    values: np.ndarray, rng: np.random.Generator, spellings: dict[str, list[tuple[str, float]]]
) -> np.ndarray:
    """Replace canonical enum values by a synonym with the given probabilities."""
    out = values.copy()
    for canonical, options in spellings.items():
        sel = np.flatnonzero(values == canonical)
        if not len(sel):
            continue
        words = np.array([w for w, _ in options], dtype=object)
        p = np.array([p for _, p in options], dtype=float)
        out[sel] = words[rng.choice(len(words), size=len(sel), p=p / p.sum())]
    return out


def ints_text(values: np.ndarray, rng: np.random.Generator, sep_share: float = 0.0) -> np.ndarray:
    """Integers as text, some with thousands separators."""
    out = np.array([str(int(v)) for v in values], dtype=object)
    if sep_share:
        for i in np.flatnonzero(rng.random(len(values)) < sep_share):
            out[i] = f"{int(values[i]):,}"
    return out


def cents_text(cents: np.ndarray, separators: np.ndarray) -> np.ndarray:
    """Decimal amounts held as integer cents, as text (`12,500.00` where `separators`)."""
    out = np.empty(len(cents), dtype=object)
    for i, (c, sep) in enumerate(zip(cents, separators, strict=True)):
        whole, frac = divmod(int(c), 100)
        out[i] = (f"{whole:,}" if sep else str(whole)) + f".{frac:02d}"
    return out


def cents_number(cents: np.ndarray) -> np.ndarray:
    """Decimal amounts as Excel numbers: the float whose repr is the two-decimal text."""
    return np.array([float(f"{int(c) // 100}.{int(c) % 100:02d}") for c in cents], dtype=object)
