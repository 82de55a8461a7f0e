"""Writing scored tables: atomically, with spreadsheet formulas neutralised.

Output goes to a temporary file beside the target and is renamed into place only when
complete, so a failure never leaves a half-written file under the requested name; which
paths may be written is decided by :mod:`custseg.io.outputs`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custseg.errors import InputFileError, shown
from custseg.io.outputs import atomic_path, check_output_path

#: A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_CHARS = pa.array(["=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20"])
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def neutralise_formulas(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Prefix ``'`` to text cells a spreadsheet would run as a formula.

    Plain signed numbers ("-5", "+3.2") are left alone: they are values, not formulas.
    """
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return column
    if not _may_start_formula(column):
        return column  # the common case: a look at first bytes, nothing to change
    first = pc.utf8_slice_codeunits(column, 0, 1)
    starts = pc.fill_null(pc.is_in(first, value_set=_FORMULA_CHARS.cast(first.type)), False)
    if not pc.any(starts).as_py():
        return column
    risky = pc.and_(
        starts, pc.invert(pc.fill_null(pc.match_substring_regex(column, _PLAIN_NUMBER), False))
    )
    quote, empty = pa.scalar("'", type=column.type), pa.scalar("", type=column.type)
    return pc.if_else(risky, pc.binary_join_element_wise(quote, column, empty), column)


#: First UTF-8 bytes of the formula starters: = + - @ tab CR, and 0xEF, which begins the
#: full-width forms (U+FF1D…); a cell starting with none of them cannot be a formula.
_FIRST_BYTES = np.zeros(256, dtype=bool)
_FIRST_BYTES[[ord(c) for c in "=+-@\t\r"] + [0xEF]] = True


def _may_start_formula(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether any cell's first byte could begin a formula (read from the raw buffers)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        buffers = chunk.buffers()
        if buffers[2] is None:
            continue
        offsets = np.frombuffer(buffers[1], dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
        data = np.frombuffer(buffers[2], dtype=np.uint8)
        filled = offsets[:-1] < offsets[1:]
        if _FIRST_BYTES[data[offsets[:-1][filled]]].any():
            return True
    return False


def distinct_names(names: Sequence[str]) -> list[str]:
    """Column names made distinct for formats that need it: a blank name becomes
    "(blank)", a repeated one "name (2)", "name (3)"…"""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = name if name.strip() else "(blank)"
        candidate, n = base, 2
        while candidate in seen:
            candidate, n = f"{base} ({n})", n + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def as_frame(table: pa.Table) -> pd.DataFrame:
    """A scored table as a DataFrame with distinct column names."""
    return table.rename_columns(distinct_names(table.column_names)).to_pandas()


def scored_table(data: pa.Table, header: Sequence[str], scores: pd.DataFrame) -> pa.Table:
    """Input columns (text, original headers) followed by the contract columns."""
    extra = pa.Table.from_pandas(scores, preserve_index=False)
    columns = list(data.columns) + list(extra.columns)
    names = list(header) + list(scores.columns)
    return pa.Table.from_arrays(columns, names=names)


def output_format(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputFileError(
            f"cannot write {shown(str(path))}: the output must end in .csv or .parquet."
        )
    return OUTPUT_FORMATS[suffix]


class ScoredWriter:
    """Appends scored batches to a CSV or Parquet file (use as a context manager)."""

    def __init__(self, sink: str | os.PathLike[str] | IO[bytes], fmt: str = "csv") -> None:
        self.sink = sink
        self.fmt = fmt
        self._writer: pacsv.CSVWriter | pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.fmt == "csv":
            # the header is text a spreadsheet reads like any cell: neutralised the same way
            table = pa.Table.from_arrays(
                [neutralise_formulas(c) for c in table.columns],
                names=neutralise_formulas(pa.array(table.column_names, pa.string())).to_pylist(),
            )
            if self._writer is None:
                self._writer = pacsv.CSVWriter(self.sink, table.schema)
        else:
            # Parquet readers cannot tell repeated or blank column names apart
            table = table.rename_columns(distinct_names(table.column_names))
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.sink, table.schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> ScoredWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_table(table: pa.Table, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write a whole table atomically, format from the file name (``force``: see
    :func:`~custseg.io.outputs.check_output_path`)."""
    fmt = output_format(path)
    target = check_output_path(path, kind="table", force=force)
    with atomic_path(target) as tmp, ScoredWriter(str(tmp), fmt) as writer:
        writer.write(table)
    return target


def write_text(
    text: str, path: str | os.PathLike[str], *inputs: str | os.PathLike[str] | None,
    kind: str, force: bool = False,
) -> Path:
    """Write UTF-8 text (a ``"report"``, a ``"rulebook"``) atomically to exactly ``path``,
    which must not be one of ``inputs``."""
    target = check_output_path(path, *inputs, kind=kind, force=force)
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target


def csv_bytes(table: pa.Table) -> bytes:
    """The table as CSV bytes (formulas neutralised), for downloads."""
    sink = pa.BufferOutputStream()
    with ScoredWriter(sink, "csv") as writer:
        writer.write(table)
    return sink.getvalue().to_pybytes()


def write_frame_csv(frame: pd.DataFrame, path: str | os.PathLike[str], *,
                    force: bool = False) -> Path:
    """Write a DataFrame as CSV atomically (used for demo data)."""
    return write_table(pa.Table.from_pandas(frame, preserve_index=False), path, force=force)
