"""The metric catalog: `catalog.yaml` parsed into frozen declarations.

The YAML is the one place a metric is defined; this module only resolves `like` (the "same" /
"as X" inheritance of metrics.md), parses the aggregate notation and checks every field and
reference against the source declarations, so a typo fails at load time and not in a report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from connectors.sources import BOOL_VALUES, SOURCES

AggregateKind = Literal["count", "count_distinct", "sum", "ratio", "latest_month", "yoy"]
Area = Literal["licensing", "enforcement", "ip", "legal"]
AREAS: tuple[Area, ...] = ("licensing", "enforcement", "ip", "legal")
AREA_LABELS: dict[str, str] = {
    "licensing": "行政许可",
    "enforcement": "执法监管",
    "ip": "知识产权",
    "legal": "法治建设",
}
ANY = "*"
REGION = "$region"
# Whose IP statistics are reported unless BUREAU_STATS_REGION says otherwise.
DEFAULT_REGION = "蓬江区"

_AGGREGATE = re.compile(r"^\s*(\w+)\s*(?:\(\s*([^)]*?)\s*\))?\s*$")
_SCALE = re.compile(r"^\s*([*/])\s*(\d+(?:\.\d+)?)\s*$")
_ROW_AGGREGATES = ("count", "count_distinct", "sum", "latest_month")


class CatalogError(ValueError):
    """The catalog file contradicts itself or the source declarations."""


@dataclass(frozen=True)
class Condition:
    """One filter condition: `field op values` (eq / in / ne)."""

    field: str
    op: Literal["eq", "in", "ne"]
    values: tuple[Any, ...]

    def describe(self) -> str:
        shown = [_show(v) for v in self.values]
        if self.op == "eq":
            return f"{self.field} = {shown[0]}"
        if self.op == "ne":
            return f"{self.field} ≠ {shown[0]}"
        return f"{self.field} in ({', '.join(shown)})"


@dataclass(frozen=True)
class Aggregate:
    kind: AggregateKind
    args: tuple[str, ...] = ()

    @property
    def field(self) -> str | None:
        return self.args[0] if self.kind in ("count_distinct", "sum", "latest_month") else None

    @property
    def column(self) -> str:
        """The aggregated field (for aggregates that have one)."""
        if self.field is None:
            raise ValueError(f"{self.kind} aggregates no field")
        return self.field

    def describe(self) -> str:
        return f"{self.kind}({', '.join(self.args)})" if self.args else self.kind


@dataclass(frozen=True)
class Metric:
    """One figure of the report, fully resolved (no `like` left)."""

    code: str
    label: str
    unit: str
    area: Area
    aggregate: Aggregate
    source: str | None = None
    date: str | None = None
    filter: tuple[Condition, ...] = ()
    scale: Decimal | None = None
    scale_text: str | None = None
    rounding: int = 2
    trend: bool = False
    # Other ways a report writes this figure's label (check-draft finds them in prose).
    variants: tuple[str, ...] = ()
    # The metric this one is declared `like` (a sub-figure of it, for check-draft's context).
    like: str | None = None

    @property
    def is_row_metric(self) -> bool:
        """Computed from the rows of one source (not from other metrics)."""
        return self.aggregate.kind in _ROW_AGGREGATES

    @property
    def components(self) -> tuple[str, ...]:
        """Metrics this one is computed from (ratio, yoy)."""
        return () if self.is_row_metric else self.aggregate.args


@dataclass(frozen=True)
class Catalog:
    metrics: dict[str, Metric]

    def __getitem__(self, code: str) -> Metric:
        try:
            return self.metrics[code]
        except KeyError:
            raise KeyError(f"unknown metric {code!r}") from None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.metrics.values())

    def __len__(self) -> int:
        return len(self.metrics)

    @property
    def codes(self) -> list[str]:
        return list(self.metrics)

    def is_decimal(self, code: str) -> bool:
        """Whether the metric's value is a decimal (rounded) rather than an integer count."""
        metric = self[code]
        if metric.scale is not None or metric.aggregate.kind in ("ratio", "yoy"):
            return True
        if metric.rounding == 0:  # declared a whole number (a count typed into a workbook)
            return False
        if metric.aggregate.kind in ("sum", "latest_month"):
            assert metric.source is not None and metric.aggregate.field is not None
            return SOURCES[metric.source].column(metric.aggregate.field).type == "decimal"
        return False

    def in_area(self, area: str) -> list[Metric]:
        return [m for m in self if m.area == area]


def _show(value: Any) -> str:
    if value is True:
        return "是"
    if value is False:
        return "否"
    return str(value)


def _parse_aggregate(code: str, text: str) -> Aggregate:
    match = _AGGREGATE.match(str(text))
    if not match:
        raise CatalogError(f"{code}: cannot read aggregate {text!r}")
    kind, raw_args = match.group(1), match.group(2)
    args = tuple(a.strip() for a in raw_args.split(",")) if raw_args else ()
    arity = {"count": 0, "count_distinct": 1, "sum": 1, "latest_month": 1, "yoy": 1, "ratio": 2}
    if kind not in arity:
        raise CatalogError(f"{code}: unknown aggregate {kind!r}")
    if len(args) != arity[kind]:
        raise CatalogError(f"{code}: {kind} takes {arity[kind]} argument(s), got {text!r}")
    return Aggregate(kind, args)  # type: ignore[arg-type]


def _parse_scale(code: str, text: Any) -> Decimal | None:
    if text is None:
        return None
    match = _SCALE.match(str(text))
    if not match:
        raise CatalogError(f"{code}: scale must look like '*100' or '/10000', got {text!r}")
    factor = Decimal(match.group(2))
    return factor if match.group(1) == "*" else Decimal(1) / factor


def _parse_variants(code: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CatalogError(f"{code}: variants must be a list of non-empty strings")
    return tuple(value)


def _parse_value(code: str, source: str, field_name: str, value: Any) -> Any:
    column_type = SOURCES[source].column(field_name).type
    if column_type == "bool":
        if value not in BOOL_VALUES:
            raise CatalogError(f"{code}: {field_name} is 是/否, got {value!r}")
        return BOOL_VALUES[value]
    if value == REGION or column_type in ("text", "enum"):
        return str(value)
    raise CatalogError(f"{code}: filters on {column_type} field {field_name} are not supported")


def _parse_condition(code: str, source: str, field_name: str, spec: Any) -> Condition:
    if isinstance(spec, dict):
        if set(spec) != {"not"}:
            raise CatalogError(f"{code}: condition on {field_name} must be {{not: value}}")
        return Condition(field_name, "ne", (_parse_value(code, source, field_name, spec["not"]),))
    if isinstance(spec, list):
        values = tuple(_parse_value(code, source, field_name, v) for v in spec)
        return Condition(field_name, "in", values)
    return Condition(field_name, "eq", (_parse_value(code, source, field_name, spec),))


def _resolve(code: str, raw: dict[str, dict[str, Any]], seen: tuple[str, ...]) -> dict[str, Any]:
    """Merge a metric with what it inherits via `like` (its own keys win, filters merge)."""
    entry = raw[code]
    parent_code = entry.get("like")
    if parent_code is None:
        return dict(entry)
    if parent_code not in raw:
        raise CatalogError(f"{code}: like {parent_code!r} is not in the catalog")
    if parent_code in seen:
        raise CatalogError(f"{code}: `like` cycle through {parent_code}")
    parent = _resolve(parent_code, raw, (*seen, code))
    merged: dict[str, Any] = {k: parent[k] for k in ("area", "source", "date") if k in parent}
    merged["filter"] = {**(parent.get("filter") or {}), **(entry.get("filter") or {})}
    merged.update({k: v for k, v in entry.items() if k != "filter"})
    return merged


def _build(code: str, spec: dict[str, Any], rounding: int) -> Metric:
    for key in ("label", "unit", "area", "aggregate"):
        if key not in spec:
            raise CatalogError(f"{code}: missing {key!r}")
    if spec["area"] not in AREAS:
        raise CatalogError(f"{code}: area must be one of {AREAS}")
    aggregate = _parse_aggregate(code, spec["aggregate"])
    source = spec.get("source")
    date_field = spec.get("date")
    conditions: list[Condition] = []
    if aggregate.kind in _ROW_AGGREGATES:
        if source not in SOURCES:
            raise CatalogError(f"{code}: source {source!r} is not a declared source")
        fields = {c.field for c in SOURCES[source].columns}
        for name in (date_field, aggregate.field, *(spec.get("filter") or {})):
            if name is not None and name not in fields:
                raise CatalogError(f"{code}: {source} has no field {name!r}")
        if date_field is None:
            raise CatalogError(f"{code}: a row metric needs a `date` field")
        for field_name, cond in (spec.get("filter") or {}).items():
            if cond != ANY:
                conditions.append(_parse_condition(code, source, field_name, cond))
    return Metric(
        code=code,
        label=str(spec["label"]),
        unit=str(spec["unit"]),
        area=spec["area"],
        aggregate=aggregate,
        source=source if aggregate.kind in _ROW_AGGREGATES else None,
        date=date_field if aggregate.kind in _ROW_AGGREGATES else None,
        filter=tuple(conditions),
        scale=_parse_scale(code, spec.get("scale")),
        scale_text=spec.get("scale"),
        rounding=int(spec.get("rounding", rounding)),
        trend=bool(spec.get("trend", False)),
        variants=_parse_variants(code, spec.get("variants")),
        like=spec.get("like"),
    )


def parse_catalog(text: str) -> Catalog:
    """Parse and check a catalog document (the YAML text)."""
    doc = yaml.safe_load(text) or {}
    rounding = int((doc.get("defaults") or {}).get("rounding", 2))
    raw: dict[str, dict[str, Any]] = {}
    for entry in doc.get("metrics") or []:
        code = entry.get("code")
        if not code:
            raise CatalogError(f"metric without code: {entry!r}")
        if code in raw:
            raise CatalogError(f"{code}: defined twice")
        raw[code] = entry
    metrics = {code: _build(code, _resolve(code, raw, ()), rounding) for code in raw}
    for metric in metrics.values():
        for ref in metric.components:
            if ref not in metrics:
                raise CatalogError(f"{metric.code}: refers to unknown metric {ref!r}")
        if metric.aggregate.kind == "yoy" and not metrics[metric.aggregate.args[0]].is_row_metric:
            raise CatalogError(f"{metric.code}: yoy needs a metric computed from rows")
    return Catalog(metrics)


def catalog_text(path: Path | None = None) -> str:
    if path is not None:
        return path.read_text(encoding="utf-8")
    return resources.files("metrics").joinpath("catalog.yaml").read_text(encoding="utf-8")


@cache
def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog shipped with the package (or another file, for tests and reviews)."""
    return parse_catalog(catalog_text(path))
