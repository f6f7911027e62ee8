"""Checks across deliveries that warn but never reject (the contract says so)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from connectors.sources import Source
from warehouse.schema import source_table


def ytd_decreases(engine: Engine, source: Source, batch_id: int) -> list[str]:
    """Year-to-date flows that fell from one month to the next, where this batch is involved.

    Messages name the region and month only (no personal data is involved in these sources).
    """
    flows = [c for c in source.columns if c.ytd]
    if not flows:
        return []
    table = source_table(source.code)
    keys = [k for k in source.key_fields if k != source.partition_field]
    columns = [table.c.batch_id, table.c.partition_date, *(table.c[k] for k in keys)]
    columns += [table.c[c.field] for c in flows]
    with engine.connect() as conn:
        years = {
            d.year
            for (d,) in conn.execute(
                select(table.c.partition_date)
                .where(table.c.batch_id == batch_id, table.c.superseded_at.is_(None))
                .distinct()
            )
        }
        if not years:
            return []
        rows = conn.execute(
            select(*columns).where(
                table.c.superseded_at.is_(None),
                table.c.partition_date >= pd.Timestamp(min(years), 1, 1).date(),
                table.c.partition_date <= pd.Timestamp(max(years), 12, 31).date(),
            )
        ).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in columns])
    frame["year"] = [d.year for d in frame["partition_date"]]
    frame = frame.sort_values([*keys, "partition_date"])
    group = frame.groupby([*keys, "year"], sort=False)
    previous_batch = group["batch_id"].shift()
    warnings = []
    for col in flows:
        previous = group[col.field].shift()
        fell = (frame[col.field] < previous) & (
            (frame["batch_id"] == batch_id) | (previous_batch == batch_id)
        )
        for i in frame.index[fell.fillna(False).astype(bool)]:
            where = " ".join(str(frame.at[i, k]) for k in keys)
            month = frame.at[i, "partition_date"].strftime("%Y-%m")
            warnings.append(
                f"{where} {month}: {col.header} fell from {int(previous[i])} to "
                f"{int(frame.at[i, col.field])} (a year-to-date figure; kept, as a revision may lower it)"
            )
    return warnings
