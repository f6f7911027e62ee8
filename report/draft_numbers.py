"""Numbers as a report writes them: 20,071 / 1.2亿 / 一百四十二 / 2万余 / 近600, with a unit.

Pure functions (no IO) for `report.draft_check`. A written number becomes an exact Decimal in
the metric's own unit, with the precision it was written at and the range its qualifier
(超/逾/多/余/近/约/左右…) allows; the verdict compares the warehouse's figure with that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Status = Literal["match", "mismatch", "approximate"]

# Full-width ASCII and the ideographic space become ASCII one character for one, so the
# offsets found in the normalised text are offsets in the draft.
_WIDE = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def normalise(text: str) -> str:
    return text.translate(_WIDE)


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_SMALL = {"十": 10, "百": 100, "千": 1000}
_LARGE = {"万": 10_000, "亿": 100_000_000}
CHINESE_NUMERAL = "[零〇一二两三四五六七八九十百千万亿]+"


def chinese_number(text: str) -> int:
    """一百四十二 → 142, 两万三千 → 23000, 十二 → 12, 一〇二 → 102 (digits read in a row)."""
    if not text or any(ch not in _DIGITS and ch not in _SMALL and ch not in _LARGE for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if all(ch in _DIGITS for ch in text) and len(text) > 1:
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, wan, section, digit = 0, 0, 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _SMALL:
            section += (1 if digit is None else digit) * _SMALL[ch]
            digit = None
        else:
            group = section + (digit or 0) + (wan if ch == "亿" else 0)
            if group == 0:
                raise ValueError(f"not a Chinese numeral: {text!r}")
            if ch == "万":
                wan = group * _LARGE[ch]
            else:
                total, wan = total + group * _LARGE[ch], 0
            section, digit = 0, None
    return total + wan + section + (digit or 0)


# Qualifiers and the side of the written number the true figure lies on.
ABOVE = ("超过", "超出", "逾", "超", "以上", "有余", "多", "余")
BELOW = ("将近", "接近", "不到", "不足", "近")
AROUND = ("大约", "约为", "约", "左右", "上下")
_BEFORE = "超过|超出|逾|超|将近|接近|不到|不足|近|大约|约为|约"
_AFTER_NUMBER = "多|余"
_AFTER_UNIT = "左右|上下|以上|有余"
_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


def number_pattern(units: list[str]) -> re.Pattern[str]:
    """A written figure: qualifier, digits or numeral, 万/亿, 多/余, unit, 左右/以上."""
    unit = "|".join(re.escape(u) for u in sorted(set(units), key=len, reverse=True))
    return re.compile(
        rf"(?P<pre>{_BEFORE})?"
        rf"(?:(?P<arabic>{_ARABIC})(?P<mul>[万亿])?|(?P<chinese>{CHINESE_NUMERAL}))"
        rf"(?P<post>{_AFTER_NUMBER})?(?P<mul2>[万亿])?"
        rf"(?P<unit>[\s|]*(?:{unit}))?(?P<tail>{_AFTER_UNIT})?"
    )


def base_unit(unit: str) -> tuple[str, Decimal]:
    """万元 → (元, 10000); 台(套) → (台套, 1): the counted thing and the multiplier."""
    bare = re.sub(r"[\s()（）|]", "", unit)
    if len(bare) > 1 and bare[0] in _LARGE:
        return bare[1:], Decimal(_LARGE[bare[0]])
    return bare, Decimal(1)


def unit_forms(unit: str) -> list[str]:
    """How a report may write a catalog unit: 台(套), 台套, 台; 万元 and 元; 家次 and 家."""
    bare, _ = base_unit(unit)
    return list(dict.fromkeys([unit, bare, bare[:1]]))


def same_unit(written: str, declared: str) -> bool:
    """家 and 家次, 期 and 期次, 台 and 台(套) name the same thing; 笔 and % do not."""
    a, b = base_unit(written)[0], base_unit(declared)[0]
    return bool(a) and bool(b) and (a.startswith(b) or b.startswith(a))


@dataclass(frozen=True)
class Written:
    """A number as the draft states it, in the metric's unit."""

    number: Decimal
    precision: Decimal  # the place of the last digit written (2.5万 → 1000 in 笔)
    step: Decimal  # the place of the last non-zero digit (the qualifier's tolerance)
    qualifier: str | None
    unit: str | None


def _place(value: Decimal) -> Decimal:
    if value == 0:
        return Decimal(1)
    return Decimal(1).scaleb(value.normalize().as_tuple().exponent)  # type: ignore[arg-type]


def read_number(match: re.Match[str], declared_unit: str, negate: bool = False) -> Written | None:
    """The matched figure in the declared unit, or None when its unit names another thing."""
    unit = (match.group("unit") or "").strip(" |\t\n") or None
    if unit is not None and not same_unit(unit, declared_unit):
        return None
    if match.group("chinese") is not None:
        try:
            base = Decimal(chinese_number(match.group("chinese")))
        except ValueError:
            return None
        written_places = _place(base) if match.group("chinese")[-1] in _LARGE else Decimal(1)
    else:
        digits = match.group("arabic").replace(",", "")
        base = Decimal(digits)
        written_places = Decimal(1).scaleb(base.as_tuple().exponent)  # type: ignore[arg-type]
    multiplier = Decimal(1)
    for group in ("mul", "mul2"):
        if match.group(group):
            multiplier *= _LARGE[match.group(group)]
    # Without a unit the number is in the metric's own unit (a table's value column).
    scale = multiplier
    if unit is not None:
        scale = multiplier * base_unit(unit)[1] / base_unit(declared_unit)[1]
    qualifier = next(
        (q for q in (match.group("pre"), match.group("post"), match.group("tail")) if q in _ALL),
        None,
    )
    number = base * scale
    return Written(
        number=-number if negate else number,
        precision=written_places * scale,
        step=_place(base) * scale,
        qualifier=qualifier,
        unit=unit,
    )


_ALL = frozenset(ABOVE + BELOW + AROUND)


def allowed_range(written: Written) -> tuple[Decimal, Decimal]:
    """The figures an approximate statement allows (see docs: "Checking a draft").

    With n the number written and s the place of its last non-zero digit (2万 → 10000,
    2.5万 → 1000, 600 → 100, 593 → 1): 超/逾/多/余/以上 allow [n, n + s), 近/不到 (n − s, n],
    约/左右 [n − s/2, n + s/2].
    """
    n, s = written.number, written.step
    if written.qualifier in ABOVE:
        return n, n + s
    if written.qualifier in BELOW:
        return n - s, n
    return n - s / 2, n + s / 2


def verdict(written: Written, value: int | Decimal | None) -> Status:
    """match: equal at the precision written; approximate: a qualified figure in its range."""
    if value is None:
        return "mismatch"
    actual = Decimal(value)
    if written.qualifier is not None:
        low, high = allowed_range(written)
        if written.qualifier in ABOVE:
            inside = low <= actual < high
        elif written.qualifier in BELOW:
            inside = low < actual <= high
        else:
            inside = low <= actual <= high
        return "approximate" if inside else "mismatch"
    units = (actual / written.precision).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return "match" if units * written.precision == written.number else "mismatch"
