"""Personal data in a block's rows (rule 7 of the contract): names masked, identifiers hashed.

`connectors.personal_data` knows how to mask a name or hash an ID; this module knows which
cells of a row hold them, by the contract's conditions: accepted rows as parsed, rejected
rows (`strict`) as typed, protected unless clearly not a natural person.
"""

from __future__ import annotations

import pandas as pd

from connectors import identifiers, personal_data, values
from connectors.rules import Parsed
from connectors.sources import Source


def protect(
    source: Source, p: Parsed | None, frame: pd.DataFrame, key: bytes, strict: bool
) -> pd.DataFrame:
    """Hash identifiers and mask names of natural persons (rule 7), then hash anything shaped
    like a resident ID in every text cell left (`_scan_ids`).

    `strict` (rejected rows): protect unless the row is clearly not a natural person, i.e.
    the condition field holds a valid value outside the condition. A valid resident ID in a
    party's identity column makes the row a natural person whatever its declared type.
    """
    out = frame.copy()
    hashed: dict[str, pd.Series] = {}
    text_fields = [c.field for c in source.columns if c.type == "text"]
    person = _natural_person(source, p, frame.index) if p is not None else None
    for col in source.columns:
        when = col.mask_when or col.hash_when
        if when is None or p is None:
            continue
        cond_text = p.text[when.field].reindex(frame.index)
        cond_ok = p.ok[when.field].reindex(frame.index)
        applies = values.contains_any(cond_text, when.values)
        if strict:
            applies = applies | ~cond_ok | cond_text.isna()
        if person is not None:
            applies = applies | person
        rows = applies & out[col.field].notna()
        if not rows.any():
            continue
        if col.mask_when is not None:
            names = out.loc[rows, col.field].astype(str)
            # Raw cells (rejected rows) may pad the name (` 许昶`, `许昶\u3000`) or write it
            # full-width: look for it as typed, stripped, and as the value rules read it.
            spellings = [names]
            if strict:
                clean = values.normalize_text(names).fillna("").astype(object)
                spellings += [names.str.strip(values.STRIP_CHARS), clean]
                names = clean.where(clean != "", names)
            for other in text_fields:
                if other == col.field:
                    continue
                for spelling in spellings:
                    out.loc[rows, other] = personal_data.mask_within(out.loc[rows, other], spelling)
                if strict:  # the name typed another way in the other cell (`赵Ａ华` for `赵A华`)
                    out.loc[rows, other] = _mask_in_normalized(out.loc[rows, other], names)
            out.loc[rows, col.field] = personal_data.mask_names(names)
        if col.hash_when is not None:
            out.loc[rows, col.field] = personal_data.hash_identifiers(
                out.loc[rows, col.field].astype(str), key
            )
            hashed[col.field] = rows
    return _scan_ids(source, out, key, strict, hashed)


def _natural_person(source: Source, p: Parsed, index: pd.Index) -> pd.Series | None:
    """Rows whose party identity column holds a valid resident ID (a person typed as 单位)."""
    fields = source.person_id_fields
    if not fields:
        return None
    found = pd.Series(False, index=index)
    for f in fields:
        found |= identifiers.valid_resident_id(p.text[f].reindex(index)).to_numpy(dtype=bool)
    return found


def _scan_ids(
    source: Source, out: pd.DataFrame, key: bytes, strict: bool, hashed: dict[str, pd.Series]
) -> pd.DataFrame:
    """Identity numbers wherever they are (rule 7): every text cell (every raw cell of a
    rejected row), except cells already hashed whole and values of a code the contract
    defines (a column checked as USCC or by pattern holds one once its row is accepted). A
    party's name cell that held one names a person: the name is masked, here and in the
    row's other text cells."""
    by_field = {c.field: c for c in source.columns}
    found_party: list[tuple[str, pd.Series]] = []
    for field in out.columns:
        col = by_field.get(field)
        if col is None:
            continue
        if not strict and (col.type != "text" or col.check is not None or col.pattern):
            continue
        cells = out[field]
        scrubbed, found = personal_data.scrub_resident_ids_in(cells, key, skip=hashed.get(field))
        if scrubbed is not cells:
            out[field] = scrubbed
        if col.party and found.any():
            found_party.append((field, found))
    for field, found in found_party:
        for at in found.index[found.to_numpy(dtype=bool)]:
            cell, names = personal_data.mask_party(str(out.at[at, field]))
            out.at[at, field] = cell
            for other in out.columns:
                text = out.at[at, other]
                if other == field or not isinstance(text, str):
                    continue
                for name in sorted(names, key=len, reverse=True):
                    text = text.replace(name, personal_data.mask_name(name))
                out.at[at, other] = text
    return out


def _mask_in_normalized(cells: pd.Series, names: pd.Series) -> pd.Series:
    """Cells whose normalized text holds the row's (clean) name: shown normalized, the name
    masked. Others unchanged (raw cells stay as typed wherever no name hides in them)."""
    out = cells.astype(object).copy()
    present = cells.notna() & names.notna()
    if not present.any():
        return out
    normal = values.normalize_text(cells[present].astype(str))
    for at, cell, name in zip(normal.index, normal.tolist(), names[present].tolist(), strict=True):
        if isinstance(cell, str) and name and name in cell:
            out[at] = cell.replace(name, personal_data.mask_name(name))
    return out
