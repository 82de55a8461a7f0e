"""Scoring files: stream any number of rows through a model in bounded memory.

Two passes over the input. The first reads only what it must to check the shape of
every row, count the rows (for an exact progress bar) and find duplicate customer ids
across the whole file; the second scores batch by batch and appends to a temporary
output that is renamed into place at the end. Peak memory depends on the batch size,
not on the length of the file.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.cluster.assignment import AssignmentMemo
from custseg.errors import InputFileError, shown
from custseg.io.outputs import atomic_path, check_output_path
from custseg.io.source import (
    DEFAULT_BATCH_ROWS,
    CustomerTable,
    ReadLimits,
    TableSource,
    fields_frame,
)
from custseg.io.writers import ScoredWriter, as_frame, output_format, scored_table
from custseg.model.scoring import SCORE_COLUMNS, Scored, score_rows
from custseg.model.segmentation import SegmentationModel
from custseg.table.fields import ID
from custseg.table.notes import duplicate_notes, row_keys

Progress = Callable[[int, int], None]


@dataclass
class ScoreReport:
    """What a scoring run did, for the command line and the dashboard."""

    n_rows: int = 0
    n_invalid: int = 0
    n_atypical: int = 0
    reasons: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    segments: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    output: str = ""

    def add(self, scored: Scored) -> None:
        scores = scored.columns
        self.reasons.update(scored.reasons)
        self.notes.update(scored.notes)
        self.n_rows += len(scores)
        # compared in Arrow: a million text cells never become Python objects
        self.n_invalid += int((scores["row_status"] == "invalid").sum())
        self.n_atypical += int(scores["atypical"].fillna(False).to_numpy(dtype=bool).sum())
        counts = scores["segment_id"].value_counts(dropna=True)
        self.segments.update({int(k): int(v) for k, v in counts.items()})

    def to_dict(self) -> dict[str, object]:
        return {
            "n_rows": self.n_rows,
            "n_invalid": self.n_invalid,
            "n_atypical": self.n_atypical,
            "reasons": dict(self.reasons),
            "notes": dict(self.notes),
            "segments": {str(k): v for k, v in sorted(self.segments.items())},
            "seconds": round(self.seconds, 3),
            "output": self.output,
        }


@dataclass(frozen=True)
class Scan:
    """First-pass facts about an input file (its shape is recorded on the source)."""

    n_rows: int
    duplicates: Mapping[int, str]


def scan(source: TableSource, batch_rows: int = DEFAULT_BATCH_ROWS) -> Scan:
    """Count rows, check their shape, and find duplicate ids over the whole file.

    A quick pass converts only the id column; only when some id repeats does a second
    pass read the field values, to tell same-value duplicates from conflicting ones.
    """
    position = source.match.fields.get(ID)
    quick = source.batches(batch_rows, column=position or 0)
    if position is None:
        return Scan(sum(batch.data.num_rows for batch in quick), {})
    id_column = pa.chunked_array([c for b in quick for c in b.data.column(0).chunks],
                                 type=pa.string())
    if len(id_column) == 0 or not _repeats(id_column):
        return Scan(len(id_column), {})
    ids: list[pa.Array] = []
    keys: list[np.ndarray] = []
    for batch in source.batches(batch_rows):
        ids.extend(batch.data.column(position).chunks)
        keys.append(row_keys(fields_frame(batch.data, source.match)))
    all_ids = pd.Series(pa.chunked_array(ids, type=pa.string()).to_pandas(), dtype="str")
    return Scan(len(all_ids), duplicate_notes(all_ids, np.concatenate(keys)))


#: Up to this many ids, Arrow's hash table answers fastest; beyond, its memory (about 160
#: bytes an id) would dominate, and 8-byte hashes are sorted instead.
EXACT_UNIQUE_ROWS = 2_000_000


def _repeats(ids: pa.ChunkedArray) -> bool:
    """Whether any non-blank id may occur twice, in bounded memory.

    Ids in strictly increasing order (as tables are often exported) are distinct, which
    one comparison of neighbours shows. Otherwise, up to :data:`EXACT_UNIQUE_ROWS` ids, an
    exact distinct count. Beyond, each id becomes a 64-bit hash (8 bytes an id, chunk by
    chunk): equal ids have equal hashes, so no repeated hash proves the ids distinct, and a
    repeated hash (a duplicate, or a one-in-10^12 collision) only sends the caller to the
    exact comparison.
    """
    if _increasing(ids):
        return False
    if len(ids) <= EXACT_UNIQUE_ROWS:
        if pd.Index(ids.to_pandas()).is_unique:  # the common case, answered fastest
            return False
        trimmed = pc.utf8_trim_whitespace(ids)
        usable = pc.drop_null(pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), ids))
        return len(pc.unique(usable)) < len(usable)
    hashes = [_hash_text(chunk) for chunk in ids.chunks]
    if not hashes:
        return False
    every = np.concatenate(hashes)
    every.sort()
    return bool(np.any(every[1:] == every[:-1]))


def _increasing(ids: pa.ChunkedArray) -> bool:
    """Whether each id is greater than the one before it (none missing), chunk by chunk."""
    last = None
    for chunk in ids.chunks:
        if len(chunk) == 0:
            continue
        if chunk.null_count or (last is not None and not chunk[0].as_py() > last):
            return False
        if len(chunk) > 1 and not pc.all(pc.greater(chunk[1:], chunk[:-1])).as_py():
            return False
        last = chunk[-1].as_py()
    return True


_POWERS = np.cumprod(np.full(4_096, 0x100000001B3, dtype=np.uint64), dtype=np.uint64)


def _hash_text(chunk: pa.Array) -> np.ndarray:
    """64-bit hashes of the non-blank strings of one arrow string array (vectorised)."""
    trimmed = pc.utf8_trim_whitespace(chunk)
    usable = pc.and_(pc.invert(pc.is_null(trimmed)), pc.not_equal(trimmed, ""))
    text = pc.filter(chunk, pc.fill_null(usable, False))
    if len(text) == 0:
        return np.empty(0, dtype=np.uint64)
    text = text.cast(pa.large_string()) if text.type != pa.large_string() else text
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + len(text) + 1]
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    lengths = np.diff(offsets)
    starts = offsets[:-1] - offsets[0]
    owner = np.repeat(np.arange(len(text)), lengths)
    position = np.arange(len(data)) - starts[owner]
    with np.errstate(over="ignore"):
        contributions = data.astype(np.uint64) * _POWERS[np.minimum(position, len(_POWERS) - 1)]
        hashes = np.zeros(len(text), dtype=np.uint64)
        filled = lengths > 0
        hashes[filled] = np.add.reduceat(contributions, starts[filled])
        hashes ^= lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        hashes ^= hashes >> np.uint64(31)
        hashes *= np.uint64(0xBF58476D1CE4E5B9)
        hashes ^= hashes >> np.uint64(29)
    return hashes


def score_batches(
    model: SegmentationModel,
    source: TableSource,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
    facts: Scan | None = None,
):
    """Yield ``(input batch, scored rows)`` for every batch of ``source``.

    ``facts`` are the first pass's findings when the caller made it (the Dask engine
    does, over all its files at once); otherwise the first pass runs here.
    """
    source.match.require(model.encoding.needs)
    facts = facts if facts is not None else scan(source, batch_rows)
    if facts.n_rows == 0:
        raise InputFileError(
            f"{shown(source.name)} has a header but no data rows; there is nothing to score."
        )
    dup_pos = np.fromiter(facts.duplicates.keys(), dtype=np.int64, count=len(facts.duplicates))
    offset = 0
    memo = AssignmentMemo()
    if progress:
        progress(0, facts.n_rows)
    for batch in source.batches(batch_rows):
        n = batch.data.num_rows
        local = dup_pos[(dup_pos >= offset) & (dup_pos < offset + n)]
        notes = {int(p - offset): facts.duplicates[int(p)] for p in local}
        scored = score_rows(
            model,
            fields_frame(batch.data, source.match),
            decimal=source.decimal,
            income_unit=source.match.income_unit,
            duplicates=notes,
            structural=batch.structural,
            memo=memo,
        )
        yield batch, scored
        offset += n
        if progress:
            progress(offset, facts.n_rows)


def score_file(
    model: SegmentationModel,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
    limits: ReadLimits | None = None,
    force: bool = False,
) -> ScoreReport:
    """Score ``input_path`` into ``output_path`` (.csv or .parquet), atomically.

    The output may not be the input, nor an existing file that is not a table (a model,
    a report) unless ``force``; a decompressed copy of a compressed input is removed on
    the way out, however the run ends.
    """
    started = time.perf_counter()
    fmt = output_format(output_path)
    target = check_output_path(output_path, input_path, kind="table", force=force)
    source = TableSource(input_path, mapping=mapping, income_unit=income_unit, limits=limits)
    report = ScoreReport(output=str(target))
    try:
        with atomic_path(target) as tmp:
            write_scored(model, source, tmp, fmt, report, batch_rows=batch_rows,
                         progress=progress)
    finally:
        source.close()
    report.seconds = time.perf_counter() - started
    return report


def write_scored(
    model: SegmentationModel,
    source: TableSource,
    path: str | os.PathLike[str],
    fmt: str,
    report: ScoreReport,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
    facts: Scan | None = None,
) -> None:
    """Stream ``source`` through ``model`` into ``path``, adding to ``report``."""
    header = _output_header(source.header)
    with ScoredWriter(str(path), fmt) as writer:
        for batch, scored in score_batches(
            model, source, batch_rows=batch_rows, progress=progress, facts=facts
        ):
            writer.write(scored_table(batch.data, header, scored.columns))
            report.add(scored)


def score_table_batches(
    model: SegmentationModel, table: CustomerTable, batch_rows: int = 50_000
) -> Iterator[tuple[int, int, pa.Table]]:
    """Score an in-memory table batch by batch: yields (rows done, total, scored batch)
    — the batch's input columns under their own headers (repeated or blank ones
    included), then the contract columns.

    Duplicate ids are found over the whole table first, so the result is the same as
    one pass; the batches let a caller show progress.
    """
    table.match.require(model.encoding.needs)
    frame = table.fields_frame()
    duplicates = (
        duplicate_notes(frame[ID], row_keys(frame)) if ID in frame.columns else {}
    )
    dup_pos = np.fromiter(duplicates.keys(), dtype=np.int64, count=len(duplicates))
    header = _output_header(table.header)
    total = table.n_rows
    for start in range(0, max(total, 1), batch_rows):
        stop = min(start + batch_rows, total)
        local = dup_pos[(dup_pos >= start) & (dup_pos < stop)]
        scores = score_rows(
            model,
            frame.iloc[start:stop].reset_index(drop=True),
            decimal=table.decimal,
            income_unit=table.match.income_unit,
            duplicates={int(p - start): duplicates[int(p)] for p in local},
            structural={k - start: v for k, v in table.structural.items() if start <= k < stop},
        ).columns
        yield stop, total, scored_table(table.data.slice(start, stop - start), header, scores)


def score_table(model: SegmentationModel, table: CustomerTable) -> pd.DataFrame:
    """An in-memory table scored: input columns (text) then the contract columns.

    A header that repeats a name, or leaves one blank, gets distinct column names in the
    DataFrame (``Notes (2)``, ``(blank)``); files written keep the header as it was.
    """
    parts = [part for _, _, part in score_table_batches(model, table, batch_rows=max(table.n_rows, 1))]
    return as_frame(pa.concat_tables(parts))


def _output_header(header: tuple[str, ...]) -> list[str]:
    """Input headers, with any that clash with a contract column renamed ``<name>_input``.

    Re-scoring a scored file is common; its old segment columns are kept, renamed.
    """
    return [f"{h}_input" if h in SCORE_COLUMNS else h for h in header]

