"""A column's distinct cells: what every column-wide decision (numbers, dates, kinds) looks
at, computed once.

Real columns repeat their values (a date per day, a handful of categories, a few hundred
ages), so deciding and parsing on the distinct cells, weighted by how many rows hold
each, is exact and much cheaper than on every row; the result is spread back to the
rows through ``index``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.table.parse import MISSING_MARKERS, to_arrow_text

_MARKERS = pa.array(sorted(MISSING_MARKERS))


@dataclass(frozen=True, eq=False)
class Cells:
    """The distinct non-missing cells of a column, trimmed, in order of first appearance
    (``values``); how many rows hold each (``counts``); and each row's position in
    ``values`` (``index``, -1 where the row is missing: null, blank or a missing marker)."""

    values: pa.Array
    counts: np.ndarray
    index: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.index)

    @property
    def n_given(self) -> int:
        """Rows with a value."""
        return int(self.counts.sum())

    @property
    def n_missing(self) -> int:
        return self.n_rows - self.n_given

    def spread(self, per_value: np.ndarray, missing: object) -> np.ndarray:
        """A value per distinct cell spread to the rows, ``missing`` on missing rows."""
        out = np.full(self.n_rows, missing, dtype=per_value.dtype)
        given = self.index >= 0
        out[given] = per_value[self.index[given]]
        return out


def text_array(values: object) -> pa.Array:
    """Any column (an arrow array or chunked array of any type, a pandas Series, a
    sequence) as one arrow string array, null where missing."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    if isinstance(values, pa.Array):
        if pa.types.is_null(values.type):
            return pa.nulls(len(values), pa.string())
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        if pa.types.is_string(values.type):
            return values
        if pa.types.is_large_string(values.type):
            return values.cast(pa.string())
        values = values.to_pandas()
    if not isinstance(values, pd.Series):
        values = pd.Series(list(values), dtype=object)
    return to_arrow_text(values)


def distinct_cells(values: object) -> Cells:
    """The column's :class:`Cells` (``values`` may be one already)."""
    if isinstance(values, Cells):
        return values
    # encode the raw cells first, then trim and look for missing markers among the
    # distinct ones only (a column has far fewer distinct cells than rows, as a rule)
    raw = pc.dictionary_encode(text_array(values))
    index = pc.fill_null(raw.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    found = raw.dictionary
    trimmed = pc.utf8_trim_whitespace(found)
    marker = pc.fill_null(pc.is_in(pc.utf8_lower(trimmed), value_set=_MARKERS), False)
    if pc.any(marker).as_py() or not pc.all(pc.equal(trimmed, found)).as_py():
        kept = pc.dictionary_encode(pc.if_else(marker, pa.scalar(None, pa.string()), trimmed))
        remap = pc.fill_null(kept.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        given = index >= 0
        index[given] = remap[index[given]]
        found = kept.dictionary
    counts = np.bincount(index[index >= 0], minlength=len(found)).astype(np.int64)
    return Cells(found, counts, index)
