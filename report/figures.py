"""The figures a Word template can state, as Jinja names: `{{ reg.establish }}` is the figure
of catalog code `reg.establish` at the report's cut-off, `{{ cases.filed | as_of("12-27") }}`
(or `{{ at("12-27").cases.filed }}`) the same figure at another cut-off of the report year.

Codes are dotted and share prefixes (`reg.establish` and `reg.establish.online` are both
figures), so a name is a node of the code tree that prints as its own figure and also gives its
children. A name that is no code raises `UnknownCode` the moment the template uses it, so a
typo fails the render instead of printing nothing. A figure printed while incomplete (the
coverage mapping says so) carries the mark ※ and its note is collected for the document's end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NoReturn, Protocol

from jinja2 import StrictUndefined

from metrics.engine import Value, render_value

MARK = "※"
# Names a template may use beside the codes: plain values and the cut-off helpers.
CUT_OFF_SYNTAX = re.compile(r"^\s*(?:(\d{4})-)?(\d{1,2})-(\d{1,2})\s*$")


class CoverageLike(Protocol):
    """What the report needs of a figure's coverage (metrics.coverage.Coverage has it)."""

    @property
    def complete(self) -> bool: ...

    def note(self) -> str: ...


class UnknownCode(LookupError):
    """A template names a figure the catalog does not have."""

    def __init__(self, code: str, why: str = "unknown code") -> None:
        super().__init__(f"{why} {code!r}")
        self.code = code
        self.why = why


@dataclass(frozen=True)
class Note:
    """An incomplete figure as the end-of-document list names it."""

    code: str
    label: str
    cut_off: date
    text: str


@dataclass
class Notes:
    """The incomplete figures a render printed, each once per cut-off, in order of use."""

    items: dict[tuple[str, date], Note] = field(default_factory=dict)

    def add(self, note: Note) -> None:
        self.items.setdefault((note.code, note.cut_off), note)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items.values())

    def __len__(self) -> int:
        return len(self.items)


def figure_text(value: Value) -> str:
    """A figure as the report prints it (units are the template's prose): 无数据 for None."""
    return render_value(value)


@dataclass(frozen=True)
class CutOff:
    """The figures of one cut-off and their coverage (empty: every figure counts as complete)."""

    day: date
    values: Mapping[str, Value]
    coverage: Mapping[str, CoverageLike] = field(default_factory=dict)


class FigureNode:
    """One node of the code tree at one cut-off: prints as its figure, gives its children.

    Attributes are the code's next segments, so the node keeps its own state in slots whose
    names no code segment can take (they start with an underscore).
    """

    __slots__ = ("_code", "_context", "_cut_off")

    def __init__(self, context: FigureContext, cut_off: CutOff, code: str) -> None:
        self._context = context
        self._cut_off = cut_off
        self._code = code

    def __getattr__(self, name: str) -> FigureNode:
        if name.startswith("_"):
            raise AttributeError(name)
        code = f"{self._code}.{name}" if self._code else name
        if code not in self._context.prefixes:
            raise UnknownCode(code)
        return FigureNode(self._context, self._cut_off, code)

    __getitem__ = __getattr__

    def __str__(self) -> str:
        return self._context.render(self._code, self._cut_off)

    def __repr__(self) -> str:
        return f"FigureNode({self._code!r}, {self._cut_off.day})"

    @property
    def _figure_code(self) -> str:
        return self._code


class MissingName(StrictUndefined):
    """A top-level name no code starts with: raises `UnknownCode` with the dotted path used
    (`{{ reg2.establish }}` names `reg2.establish`), where Jinja would say only `reg2`."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return MissingName(name=f"{self._undefined_name}.{name}")

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise UnknownCode(str(self._undefined_name))

    __str__ = __iter__ = __len__ = __bool__ = __call__ = __getitem__ = _fail  # type: ignore[assignment]
    __eq__ = __ne__ = __contains__ = __int__ = __float__ = _fail  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]


class FigureContext:
    """The Jinja names of a render: one root per code segment, the plain values, `at()` and the
    `as_of` filter; collects the notes of the incomplete figures it printed.

    `values` and `coverage` are the report cut-off's; `figures_at(day)` gives another cut-off
    of the year (values and coverage), asked once per day a template uses.
    """

    def __init__(
        self,
        year: int,
        main: CutOff,
        *,
        labels: Mapping[str, str] | None = None,
        figures_at: Callable[[date], CutOff] | None = None,
        plain: Mapping[str, object] | None = None,
    ) -> None:
        self.year = year
        self.main = main
        self.labels = dict(labels or {})
        self.codes = frozenset(main.values)
        self.prefixes = frozenset(_prefixes(self.codes))
        self.notes = Notes()
        self._figures_at = figures_at
        self._cut_offs: dict[date, CutOff] = {main.day: main}
        self.plain = dict(plain or {})
        clash = sorted({c.split(".")[0] for c in self.codes} & {*self.plain, "at"})
        if clash:
            raise ValueError(f"template names {clash} are also code prefixes")

    # -- what the template sees

    def variables(self) -> dict[str, object]:
        roots = {c.split(".")[0] for c in self.codes}
        names: dict[str, object] = {r: FigureNode(self, self.main, r) for r in sorted(roots)}
        names.update(self.plain)
        names["at"] = self.at
        return names

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"as_of": self.as_of}

    def at(self, text: str) -> FigureNode:
        """The root of the code tree at another cut-off: `at("11-13").litigation.cases`."""
        return FigureNode(self, self.cut_off(text), "")

    def as_of(self, node: object, text: str) -> FigureNode:
        """`{{ litigation.cases | as_of("11-13") }}`: the figure at that cut-off."""
        if isinstance(node, MissingName):
            node._fail()
        if not isinstance(node, FigureNode):
            raise UnknownCode(repr(node), "as_of applies to a figure, not")
        return FigureNode(self, self.cut_off(text), node._figure_code)

    # -- the work

    def cut_off(self, text: str) -> CutOff:
        """ "MM-DD" in the report year or "YYYY-MM-DD" of it; never past the report's own
        cut-off (a figure does not count beyond the report's date)."""
        match = CUT_OFF_SYNTAX.match(str(text))
        try:
            if not match or int(match.group(1) or self.year) != self.year:
                raise ValueError
            day = date(self.year, int(match.group(2)), int(match.group(3)))
        except ValueError:
            raise UnknownCode(
                str(text), f"a cut-off is MM-DD or YYYY-MM-DD in {self.year}, not"
            ) from None
        day = min(day, self.main.day)
        if day not in self._cut_offs:
            if self._figures_at is None:
                raise UnknownCode(str(text), "no figures at cut-off")
            self._cut_offs[day] = self._figures_at(day)
        return self._cut_offs[day]

    def render(self, code: str, cut_off: CutOff) -> str:
        if code not in self.codes:
            raise UnknownCode(code, "not a figure (only a prefix of codes):")
        text = figure_text(cut_off.values.get(code))
        coverage = cut_off.coverage.get(code)
        if coverage is None or coverage.complete:
            return text
        self.notes.add(Note(code, self.labels.get(code, code), cut_off.day, coverage.note()))
        return f"{text}{MARK}"


def _prefixes(codes: Iterable[str]) -> Iterable[str]:
    for code in codes:
        parts = code.split(".")
        for i in range(1, len(parts) + 1):
            yield ".".join(parts[:i])


def note_lines(notes: Notes, main_day: date) -> list[str]:
    """The end-of-document list: one line per incomplete figure printed."""
    lines = []
    for note in notes:
        when = (
            "" if note.cut_off == main_day else f"(截至{note.cut_off.month}月{note.cut_off.day}日)"
        )
        lines.append(f"{MARK} {note.label}({note.code}){when}:{note.text}")
    return lines
