"""Rules between the rows of one file (`Source.consistency`): the offices' figures must add up.

A row can be right on its own and the workbook still wrong (14 cases, of which 10 first and 5
second instance): such a file is not half-published but quarantined whole, naming the rule.
Rows are matched on their cut-off; a rule is checked at each cut-off where every code it names
has an accepted row (a figure not yet entered is not a contradiction). Pure: no IO.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pyarrow as pa

from connectors.sources import Consistency, Source
from connectors.spool import SpooledRows

INCONSISTENT = "inconsistent"  # the ledger reason of a file breaking a rule


def _holds(rule: Consistency, figures: dict[str, Decimal]) -> bool:
    total = figures[rule.total]
    parts = sum((figures[p] for p in rule.parts), Decimal(0))
    return total == parts if rule.op == "eq" else total <= parts


def _show(rule: Consistency, figures: dict[str, Decimal]) -> str:
    op = "=" if rule.op == "eq" else "<="
    parts = " + ".join(f"{figures[p].normalize():f}" for p in rule.parts)
    return f"{figures[rule.total].normalize():f} {op} {parts} is false"


def breaches(source: Source, accepted: pa.Table | SpooledRows) -> list[str]:
    """Each broken rule, as `rule (at cut-off: the figures)`, in declaration order."""
    if not source.consistency or source.consistency_fields is None:
        return []
    code_field, value_field, cut_off_field = source.consistency_fields
    fields = [code_field, value_field, cut_off_field]
    rows = accepted.columns(fields) if isinstance(accepted, SpooledRows) else accepted
    at: dict[date, dict[str, Decimal]] = defaultdict(dict)
    for code, value, cut_off in zip(*(rows.column(f).to_pylist() for f in fields), strict=True):
        if code is not None and value is not None and cut_off is not None:
            at[cut_off][code] = Decimal(value)
    out = []
    for rule in source.consistency:
        for cut_off in sorted(at):
            figures = at[cut_off]
            if all(c in figures for c in rule.codes) and not _holds(rule, figures):
                out.append(f"{rule.name} (at {cut_off.isoformat()}: {_show(rule, figures)})")
                break
    return out
