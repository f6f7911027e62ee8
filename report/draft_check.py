"""Find every statement of a catalog figure in a draft written by hand, and judge it.

Pure logic (no IO): `bureau-stats check-draft` reads the document and the warehouse. The
matcher is built from the catalog alone — each metric's label and declared `variants` — so it
works on reports it has never seen. A phrase that names no subject of its own (其中网上业务,
出动执法人员, 变更, 使用单位) counts only after its parent (`like`) or a sibling in the same
sentence (else the same paragraph or table); the number is the first one after the phrase in its
clause (else the one just before it); a cut-off stated in the sentence (截至10月, 1-10月,
(截至12月27日)) is the cut-off the figure is computed at.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from metrics.catalog import Catalog, Metric
from report.draft_numbers import (
    Status,
    Written,
    chinese_number,
    normalise,
    number_pattern,
    read_number,
    unit_forms,
    verdict,
)

Value = int | Decimal | None

# Units a report writes beside figures that are no catalog unit: a number with one of these
# (2024年, 3月) is not the figure of the label before it.
_OTHER_UNITS = ["年", "月", "日", "个百分点", "倍", "岁", "小时", "天", "个工作日", "次", "人"]
_SENTENCE_END = re.compile(r"[。!?\n]")  # ; joins clauses of one sentence
# A comma inside 20,071 separates thousands, not clauses.
_CLAUSE_BREAK = re.compile(r"[、;。!?]|(?<!\d),|,(?!\d{3}(?!\d))")
_CJK = re.compile(r"[\u3400-\u9fff]")
_CODE = re.compile(r"[a-z_]+(?:\.[a-z_]+)+")
_MAX_GAP = 12  # CJK characters between a label and its number (受理…申请共计)
_NEGATIVE = ("下降", "减少")


@dataclass(frozen=True)
class Phrase:
    """One way of writing one metric's label."""

    text: str
    code: str
    bound: bool  # counts only after its parent or a sibling
    elided: str  # the start of the label the phrase leaves out (使用单位 → 检查医疗器械)


@dataclass(frozen=True)
class Matcher:
    phrases: dict[str, tuple[Phrase, ...]]
    parents: dict[str, str | None]
    labels: dict[str, str]
    units: dict[str, str]
    pattern: re.Pattern[str]
    numbers: re.Pattern[str]


@dataclass(frozen=True)
class Statement:
    """A figure the draft states: its number, cut-off, sentence and where the number stands."""

    code: str
    written: Written
    draft: str  # as written: 2万余笔
    as_of: date
    text: str  # the sentence
    block: int
    start: int  # the number's span in the block's text
    end: int


@dataclass(frozen=True)
class Unresolved:
    """A phrase several metrics share, with a number, and nothing in the sentence to decide."""

    phrase: str
    codes: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Checked:
    statement: Statement
    value: Value
    status: Status


def parent_of(metric: Metric) -> str | None:
    """The figure this one is part of: its `like`, or the base of a year-on-year figure."""
    if metric.like is not None:
        return metric.like
    if metric.aggregate.kind == "yoy":
        return metric.aggregate.args[0]
    return None


def _phrase(text: str, metric: Metric, parent: Metric | None, shared: bool) -> Phrase:
    elided = metric.label[: -len(text)] if metric.label.endswith(text) else ""
    elliptical = bool(elided) or (
        parent is not None and parent.label in metric.label and parent.label not in text
    )
    bound = shared or (
        parent is not None and (text.startswith("其中") or len(text) <= 2 or elliptical)
    )
    return Phrase(text, metric.code, bound, elided.removeprefix("其中"))


def build_matcher(catalog: Catalog) -> Matcher:
    """Every label and declared variant of the catalog, longest first."""
    owners: dict[str, list[Metric]] = {}
    for metric in catalog:
        for text in dict.fromkeys((metric.label, *metric.variants)):
            owners.setdefault(normalise(text), []).append(metric)
    parents = {m.code: parent_of(m) for m in catalog}
    phrases = {
        text: tuple(
            _phrase(text, m, catalog[p] if (p := parents[m.code]) else None, len(ms) > 1)
            for m in ms
        )
        for text, ms in owners.items()
    }
    ordered = sorted(phrases, key=len, reverse=True)
    units = [form for m in catalog for form in unit_forms(m.unit)] + _OTHER_UNITS
    return Matcher(
        phrases=phrases,
        parents=parents,
        labels={m.code: m.label for m in catalog},
        units={m.code: m.unit for m in catalog},
        pattern=re.compile("|".join(re.escape(t) for t in ordered)),
        numbers=number_pattern(units),
    )


_MATCHERS: dict[int, tuple[Catalog, Matcher]] = {}


def matcher_for(catalog: Catalog) -> Matcher:
    """The catalog's matcher, built once per catalog object (the catalog is not hashable)."""
    kept = _MATCHERS.get(id(catalog))
    if kept is None or kept[0] is not catalog:
        kept = _MATCHERS[id(catalog)] = (catalog, build_matcher(catalog))
    return kept[1]


# ------------------------------------------------------------------------------ cut-offs

_MONTH = r"(\d{1,2}|[一二三四五六七八九十]{1,3})"
_CUT_OFF = re.compile(
    r"截[至止]到?\s*(?:(?P<year>\d{4})\s*年)?\s*" + _MONTH.replace("(", "(?P<month>", 1) + r"\s*月"
    r"(?:\s*(?P<day>\d{1,2}|[一二三四五六七八九十]{1,3})\s*[日号])?"
)
_ISO = re.compile(r"截[至止]到?\s*(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})")
_SPAN = re.compile(
    r"(?:(?P<year>\d{4})\s*年)?\s*(?<![\d一二三四五六七八九十])(?:1|一)\s*[-—–~至到]\s*"
    + _MONTH.replace("(", "(?P<month>", 1)
    + r"\s*月"
)
_QUARTERS = {"一季度": 3, "上半年": 6, "前两个季度": 6, "前三季度": 9}


def _int(text: str) -> int:
    return int(text) if text.isdigit() else chinese_number(text)


def cut_off(sentence: str, year: int) -> date | None:
    """The cut-off a sentence states for its figures (None: the year's end)."""
    for pattern in (_ISO, _CUT_OFF, _SPAN):
        found = pattern.search(sentence)
        if found is None or (found["year"] and int(found["year"]) != year):
            continue
        month = _int(found["month"])
        if not 1 <= month <= 12:
            continue
        last = calendar.monthrange(year, month)[1]
        day = _int(found["day"]) if "day" in found.groupdict() and found["day"] else last
        return date(year, month, min(max(day, 1), last))
    for phrase, month in _QUARTERS.items():
        if phrase in sentence:
            return date(year, month, calendar.monthrange(year, month)[1])
    return None


# ------------------------------------------------------------------------------ statements


def _sentences(block: str) -> Iterable[tuple[int, str]]:
    start = 0
    for end in _SENTENCE_END.finditer(block):
        yield start, block[start : end.end()]
        start = end.end()
    if start < len(block):
        yield start, block[start:]


@dataclass(frozen=True)
class _Figure:
    start: int  # in the sentence
    text: str
    found: re.Match[str]
    written: Written


def _number_after(
    matcher: Matcher, sentence: str, begin: int, end: int, unit: str, negate: bool
) -> _Figure | None:
    """The figure after a phrase: the first number of its clause, if its unit fits."""
    clause = _CLAUSE_BREAK.split(sentence[begin:end], maxsplit=1)[0]
    for found in matcher.numbers.finditer(clause):
        if len(_CJK.findall(clause[: found.start()])) > _MAX_GAP:
            return None
        if found["chinese"] is not None and not found["unit"]:
            continue  # 一般, 统一: a numeral character in a word, not a figure
        if not found["unit"] and clause[found.end() : found.end() + 1] not in ("", " ", "|"):
            return None  # digits glued to a word are no figure
        written = read_number(found, unit, negate)
        if written is None:
            return None
        return _Figure(begin + found.start(), found.group().rstrip(" |"), found, written)
    return None


def _number_before(
    matcher: Matcher, sentence: str, begin: int, end: int, unit: str
) -> _Figure | None:
    """20071笔设立登记业务: a number with its unit just before the phrase (的 allowed)."""
    clause = _CLAUSE_BREAK.split(sentence[begin:end])[-1]
    matches = list(matcher.numbers.finditer(clause))
    last = matches[-1] if matches else None
    if last is None or not last["unit"] or clause[last.end() :].strip() not in ("", "的"):
        return None
    written = read_number(last, unit)
    if written is None:
        return None
    return _Figure(end - len(clause) + last.start(), last.group().rstrip(" |"), last, written)


def _fits(matcher: Matcher, phrase: Phrase, previous: str) -> bool:
    return not phrase.elided or matcher.labels[previous].startswith(phrase.elided)


def _named(phrases: tuple[Phrase, ...], gap: str) -> Phrase | None:
    """The reading whose metric code is written beside the label (the project's tables)."""
    for code in _CODE.findall(gap):
        named = [p for p in phrases if p.code == code]
        if named:
            return named[0]
    return None


def _resolve(
    matcher: Matcher, phrases: tuple[Phrase, ...], gap: str, context: Sequence[str]
) -> Phrase | None:
    """Which metric a phrase means: a code written beside it, else the only free reading, else
    the nearest earlier figure it is a part (child) or a sibling of."""
    named = _named(phrases, gap)
    if named is not None:
        return named
    free = [p for p in phrases if not p.bound]
    if len(free) == 1:
        return free[0]
    for previous in reversed(context):
        up = matcher.parents[previous]
        children = [p for p in phrases if matcher.parents[p.code] == previous]
        siblings = [
            p
            for p in phrases
            if up is not None and matcher.parents[p.code] == up and p.code != previous
        ]
        if not children and not siblings:
            continue
        fitting = [p for p in children + siblings if _fits(matcher, p, previous)]
        chosen = fitting or children
        return chosen[0] if len({p.code for p in chosen}) == 1 or fitting else None
    return None


def find_statements(
    blocks: Sequence[str], catalog: Catalog, year: int
) -> tuple[list[Statement], list[Unresolved]]:
    """Every statement of a catalog figure in the draft's blocks (paragraphs, tables)."""
    matcher = matcher_for(catalog)
    statements: list[Statement] = []
    unresolved: list[Unresolved] = []
    for index, raw in enumerate(blocks):
        block = normalise(raw)
        in_block: list[str] = []
        for offset, sentence in _sentences(block):
            as_of = cut_off(sentence, year) or date(year, 12, 31)
            in_sentence: list[str] = []
            found = list(matcher.pattern.finditer(sentence))
            for i, hit in enumerate(found):
                end = found[i + 1].start() if i + 1 < len(found) else len(sentence)
                begin = found[i - 1].end() if i else 0
                phrases = matcher.phrases[hit.group()]
                negate = any(word in hit.group() for word in _NEGATIVE)
                unit = matcher.units[phrases[0].code]
                figure = _number_after(matcher, sentence, hit.end(), end, unit, negate) or (
                    None if negate else _number_before(matcher, sentence, begin, hit.start(), unit)
                )
                if figure is None:
                    continue
                gap = sentence[hit.end() : max(figure.start, hit.end())]
                if not figure.found["unit"] and _named(phrases, gap) is None:
                    continue  # a bare number is a figure only beside its code (a file count)
                phrase = _resolve(matcher, phrases, gap, in_sentence or in_block)
                if phrase is None:
                    if len({p.code for p in phrases}) > 1:
                        codes = tuple(p.code for p in phrases)
                        unresolved.append(Unresolved(hit.group(), codes, sentence.strip()))
                    continue
                written = figure.written
                if matcher.units[phrase.code] != unit:
                    other = read_number(figure.found, matcher.units[phrase.code], negate)
                    if other is None:
                        continue
                    written = other
                statements.append(
                    Statement(
                        code=phrase.code,
                        written=written,
                        draft=figure.text,
                        as_of=as_of,
                        text=sentence.strip(),
                        block=index,
                        start=offset + figure.start,
                        end=offset + figure.start + len(figure.text),
                    )
                )
                in_sentence.append(phrase.code)
            in_block.extend(in_sentence)
    return statements, unresolved


# ------------------------------------------------------------------------------ the verdict


def cut_offs(statements: Iterable[Statement]) -> list[date]:
    return sorted({s.as_of for s in statements})


def check(
    statements: Iterable[Statement], values: Mapping[date, Mapping[str, Value]]
) -> list[Checked]:
    """Each statement against the warehouse's figure at its own cut-off."""
    return [
        Checked(s, value := values[s.as_of].get(s.code), verdict(s.written, value))
        for s in statements
    ]


def not_stated(catalog: Catalog, statements: Iterable[Statement]) -> list[str]:
    stated = {s.code for s in statements}
    return [code for code in catalog.codes if code not in stated]


def _number(value: Value) -> int | float | None:
    if value is None or isinstance(value, int):
        return value
    return int(value) if value == value.to_integral_value() else float(str(value))


def as_json(
    checked: Sequence[Checked], missing: Sequence[str], unresolved: Sequence[Unresolved] = ()
) -> dict[str, Any]:
    """The `--json` document: statements, figures never stated, shared phrases left open."""
    return {
        "statements": [
            {
                "code": c.statement.code,
                "draft": _number(c.statement.written.number),
                "written": c.statement.draft,
                "value": _number(c.value),
                "as_of": c.statement.as_of.isoformat(),
                "status": c.status,
                "text": c.statement.text,
            }
            for c in checked
        ],
        "not_stated": list(missing),
        "unresolved": [
            {"phrase": u.phrase, "codes": list(u.codes), "text": u.text} for u in unresolved
        ],
    }
