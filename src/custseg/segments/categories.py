"""Category profiles: each segment's shares of the values of a categorical column.

A segment is profiled by the categorical and flag columns of its table (see
:mod:`custseg.table.inspect`: at most :data:`MAX_VALUES` values), whether or not they
were clustered on. For each column and value: the *share* of the segment's customers
(those with a value in that column) who hold it, and its *lift*, that share over the
share among all customers (None where everyone's share is 0). A flag (two values, such
as a 0/1 response column) is profiled the same way, never given a level.

A value is *over-represented* in a segment, and named in its facts ("Education = PhD:
31% vs 22% of everyone"), only when it is held by at least :data:`MIN_SHARE` of the
segment and :data:`MIN_CUSTOMERS` of its customers, with a lift of at least
:data:`MIN_LIFT`: two customers answering "Absurd" stay in the table, never in the
headline.

The work and the model file are bounded: at most :data:`MAX_VALUES` values per column,
:data:`MAX_COLUMNS` columns, and :data:`MAX_ENTRIES` (segment, value) entries in all;
columns beyond them are left out, in order, with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.table.parse import MISSING_MARKERS, to_arrow_text
from custseg.table.text import terminal_safe

#: Most values of a column profiled by (inspect offers columns of at most this many).
MAX_VALUES = 20
#: Most columns a model is profiled by.
MAX_COLUMNS = 20
#: Most (segment, column, value) entries a model keeps: 1,000 segments of 20 columns of
#: 20 values would be 400,000, too many for a model file; columns are left out instead.
MAX_ENTRIES = 40_000
#: Longest category value kept (a longer one is not a category but text).
MAX_VALUE_CHARS = 200
#: An over-represented value is held by at least this share of the segment…
MIN_SHARE = 0.05
#: …and at least this many of its customers…
MIN_CUSTOMERS = 10
#: …and at least this much more often than among everyone.
MIN_LIFT = 1.2
#: Slack of the share and lift thresholds (a lift of 1.2 computed as 1.1999999999999997
#: is 1.2).
TOLERANCE = 1e-9
#: Most over-represented values named in a segment's facts.
HEADLINE_MAX = 3


@dataclass(frozen=True)
class CategoryProfiles:
    """Shares of the values of each column, for everyone (``base``: column -> value ->
    share) and per segment (``segments``: id -> column -> entries ``{"value", "share",
    "lift", "count"}``, values in the base's order, commonest first)."""

    base: Mapping[str, Mapping[str, float]]
    segments: Mapping[int, Mapping[str, tuple[Mapping[str, Any], ...]]]
    #: Columns left out to keep the work bounded, and why.
    left_out: tuple[str, ...] = ()


def _number_text(value: float) -> str:
    """The shortest text of a number: "1" for 1.0, "0.5" for "0.50"."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _coded(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """A column's cells as codes into its distinct values (-1 for missing), and those
    values, commonest first (ties by value).

    A value is the cell's text trimmed and Unicode-NFC-normalised; a blank, a null or a
    missing marker ("NA", "null"…, as for numbers: see
    :data:`custseg.table.parse.MISSING_MARKERS`) is missing. When every value reads as a
    number, values are numbers: "1" and "1.0" are one value, shown "1". The work is per
    distinct value, not per row."""
    text = to_arrow_text(column) if len(column) else pa.array([], type=pa.string())
    encoded = pc.dictionary_encode(text)
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    words = pc.utf8_normalize(pc.utf8_trim_whitespace(encoded.dictionary), "NFC")
    lowered = pc.utf8_lower(words)
    missing = np.asarray(pc.is_in(lowered, value_set=pa.array(sorted(MISSING_MARKERS))),
                         dtype=bool)
    raw = words.to_pylist()
    kept = [w for w, m in zip(raw, missing, strict=True) if not m]
    numbers = pd.to_numeric(pd.Series(kept, dtype=object), errors="coerce")
    if kept and numbers.notna().all() and np.isfinite(numbers.to_numpy(float)).all():
        shown = iter(_number_text(float(v)) for v in numbers)
        raw = [None if m else next(shown) for m in missing]
    else:
        raw = [None if m else w for w, m in zip(raw, missing, strict=True)]
    distinct = sorted({w for w in raw if w is not None})
    counts = np.zeros(len(distinct), dtype=np.int64)
    position = {w: i for i, w in enumerate(distinct)}
    to_distinct = np.array([position[w] if w is not None else -1 for w in raw] + [-1],
                           dtype=np.int64)
    code = to_distinct[indices]  # -1 (a null cell) indexes the trailing -1
    known = code >= 0
    counts = np.bincount(code[known], minlength=len(distinct))
    order = sorted(range(len(distinct)), key=lambda i: (-counts[i], distinct[i]))
    rank = np.empty(len(distinct) + 1, dtype=np.int64)
    rank[order] = np.arange(len(distinct))
    rank[-1] = -1
    return rank[code], [distinct[i] for i in order]


def column_values(column: pd.Series) -> list[str]:
    """A column's distinct values, commonest first (ties by value; see :func:`_coded`)."""
    return _coded(column)[1]


def profilable(column: pd.Series) -> str | None:
    """Why a column cannot be profiled by (too many values, values too long, none), or
    None when it can."""
    return _values_problem(column_values(column))


def _values_problem(values: Sequence[str]) -> str | None:
    if not values:
        return "it has no values"
    if len(values) > MAX_VALUES:
        return f"it has {len(values):,} distinct values; custseg profiles by columns of at " \
               f"most {MAX_VALUES}"
    if max(len(v) for v in values) > MAX_VALUE_CHARS:
        return f"a value is longer than {MAX_VALUE_CHARS} characters"
    return None


def category_profiles(cells: pd.DataFrame, labels: np.ndarray) -> CategoryProfiles:
    """Profile every segment of ``labels`` by each column of ``cells`` (text, one row
    per customer, aligned with ``labels``). Columns :func:`profilable` refuses, and those
    beyond the bounds, are left out."""
    labels = np.asarray(labels)
    ids = np.unique(labels)
    base: dict[str, dict[str, float]] = {}
    per: dict[int, dict[str, tuple[dict[str, Any], ...]]] = {int(i): {} for i in ids}
    left_out: list[str] = []
    entries = 0
    segment_code = np.searchsorted(ids, labels)
    for name in cells.columns:
        code, values = _coded(cells[name])
        if _values_problem(values) is not None or len(base) >= MAX_COLUMNS \
                or entries + len(values) * len(ids) > MAX_ENTRIES:
            left_out.append(str(name))
            continue
        entries += len(values) * len(ids)
        known = code >= 0
        counts = np.bincount(segment_code[known] * len(values) + code[known],
                             minlength=len(ids) * len(values)).reshape(len(ids), len(values))
        everyone = counts.sum(axis=0)
        total = everyone.sum()
        shares_all = everyone / total if total else np.zeros(len(values))
        base[str(name)] = {v: float(s) for v, s in zip(values, shares_all, strict=True)}
        for row, sid in enumerate(ids):
            own = counts[row]
            n = int(own.sum())
            per[int(sid)][str(name)] = tuple(
                {"value": v,
                 "share": float(c / n) if n else None,
                 # from the counts, (c·total)/(n·everyone): 11 of 15 against 55 of 90
                 # is 1.2 exactly, not 1.1999999999999997 as share/share reads
                 "lift": float((int(c) * int(total)) / (n * int(e))) if n and e else None,
                 "count": int(c)}
                for v, c, e in zip(values, own, everyone, strict=True))
    return CategoryProfiles(base=base, segments=per, left_out=tuple(left_out))


def over_represented(categories: Mapping[str, Sequence[Mapping[str, Any]]], size: int,
                     ) -> list[tuple[str, Mapping[str, Any]]]:
    """``(column, entry)`` of a segment's over-represented values (see the module's
    docstring), highest lift first, at most :data:`HEADLINE_MAX`."""
    found = []
    for column, entries in categories.items():
        for e in entries:
            share, lift, count = e.get("share"), e.get("lift"), int(e.get("count") or 0)
            if share is None or lift is None:
                continue
            if share >= MIN_SHARE - TOLERANCE and count >= MIN_CUSTOMERS \
                    and lift >= MIN_LIFT - TOLERANCE and size >= MIN_CUSTOMERS:
                found.append((column, e))
    found.sort(key=lambda item: (-item[1]["lift"], item[0], item[1]["value"]))
    return found[:HEADLINE_MAX]


def category_fact(column: str, entry: Mapping[str, Any],
                  base: Mapping[str, Mapping[str, float]] | None = None) -> str:
    """"Education = PhD: 31% vs 22% of everyone" (the value shown safely: it is data);
    everyone's share from ``base`` (column -> value -> share) when given, else as the
    entry's share over its lift."""
    share, lift = float(entry["share"]), float(entry["lift"])
    known = (base or {}).get(column, {}).get(str(entry["value"]))
    everyone = float(known) if known is not None else share / lift
    return (f"{terminal_safe(column)} = {terminal_safe(str(entry['value']))}: {share:.0%} vs "
            f"{everyone:.0%} of everyone ({lift:.1f}×)")
