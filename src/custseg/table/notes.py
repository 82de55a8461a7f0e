"""Notes about rows and columns that are not cell errors.

Repeated customer ids, spreadsheet summary rows, and an income column that holds dollars
while its header names no unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.errors import shown
from custseg.table.fields import ID, fmt_number
from custseg.table.parse import parse_numbers, to_arrow_text


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash per row of the field cells other than the id, as written."""
    cols = [c for c in frame.columns if c != ID]
    if not cols:
        return np.zeros(len(frame), dtype=np.uint64)
    text = pd.DataFrame(
        {c: pd.Series(to_arrow_text(frame[c]).to_pandas(), dtype="str") for c in cols}
    )
    return pd.util.hash_pandas_object(text, index=False).to_numpy()


def duplicate_notes(
    ids: pd.Series,
    keys: np.ndarray | None = None,
    offset: int = 0,
    positions: np.ndarray | None = None,
) -> dict[int, str]:
    """Notes for rows whose customer id appears more than once.

    Rows are numbered from 1 (the first row after the header). With ``keys`` (see
    :func:`row_keys`), each note says whether the other rows carry the same values or
    conflicting ones. ``positions`` gives each entry's row position when ``ids`` is a
    subset of a larger table (the notes are then keyed by those positions).
    """
    ids = pd.Series(ids).reset_index(drop=True)
    where = np.arange(len(ids)) if positions is None else np.asarray(positions, dtype=np.int64)
    usable = ids.notna() & (ids.astype("str").str.strip() != "")
    dup = (usable & ids.duplicated(keep=False)).to_numpy()
    if not dup.any():
        return {}
    notes: dict[int, str] = {}
    entries = np.flatnonzero(dup)
    groups = pd.Series(entries).groupby(ids.iloc[entries].to_numpy(), sort=False)
    for key, members in groups:
        rows = members.to_numpy()
        same = keys is None or len(set(keys[rows].tolist())) == 1
        kind = "same values" if same else "conflicting values"
        rows = where[rows]
        for pos in rows:
            others = [str(r + 1 + offset) for r in rows if r != pos]
            listed = ", ".join(others[:5])
            if len(others) > 5:
                listed += f" and {len(others) - 5} more"
            notes[int(pos)] = f"customer_id {shown(key)} also on row {listed} ({kind})"
    return notes


_SUMMARY_WORDS = ("total", "totals", "sum", "subtotal", "sub-total", "average", "avg", "mean",
                  "median", "count", "min", "max", "minimum", "maximum")
#: Summary labels, lower-case, as a spreadsheet footer writes them ("Total", "Grand total:").
_SUMMARY = pa.array(sorted(
    f"{prefix}{word}{colon}"
    for word in _SUMMARY_WORDS
    for prefix in ("", "grand ")
    for colon in ("", ":", " :")
))


SUMMARY_NOTE = "looks like a spreadsheet summary row"


def summary_row_notes(cells: pd.Series) -> dict[int, str]:
    """Rows whose cell is a spreadsheet summary label ("Total", "Average", "Grand total").

    Such a row sums or averages customers; scoring it as one would be silently wrong.
    Positions are those of ``cells``; numbering in the note is from 1.
    """
    text = to_arrow_text(cells.reset_index(drop=True))
    # Short cells only (a cheap pass), then an exact, case-insensitive set lookup.
    short = pc.fill_null(pc.less_equal(pc.utf8_length(text), 16), False)
    if not pc.any(short).as_py():
        return {}
    label = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    hits = pc.and_(short, pc.fill_null(pc.is_in(label, value_set=_SUMMARY), False))
    rows = np.flatnonzero(hits.to_numpy(zero_copy_only=False))
    if not len(rows):
        return {}
    values = text.take(pa.array(rows)).to_pylist()
    return {
        int(r): f"{SUMMARY_NOTE} ({shown(v.strip())}), not a customer"
        for r, v in zip(rows, values, strict=True)
    }


#: A typical customer earning more than this many k$ a year means the column is in dollars.
DOLLAR_MEDIAN_K = 1_000.0


def dollar_income_message(values: pd.Series, decimal: str, header: str) -> str | None:
    """A refusal message when an income column with no unit in its header holds dollars.

    custseg reads such a column in k$. A median above 1,000 k$ ($1M a year) is not a
    customer base in k$: rather than treat $54,000 as 54,000 k$, say so and ask for the
    unit. The message ends on the setting that fixes it: raise it with
    ``parameter="income_unit", key="$"`` so that each face says how to set it.
    """
    parsed = parse_numbers(values, decimal=decimal, money_unit="k$")
    usable = parsed.values[np.isfinite(parsed.values)]
    if not len(usable):
        return None
    median = float(np.median(usable))
    if median <= DOLLAR_MEDIAN_K:
        return None
    return (
        f"the income column {shown(header)} has no unit in its header, so custseg reads it "
        f"in thousands of dollars (k$), but its median is {fmt_number(median)}: that looks "
        "like dollars. Divide the values by 1,000, or state the unit: use a header such as "
        "'Annual Income ($)' or set the income unit to '$'"
    )
