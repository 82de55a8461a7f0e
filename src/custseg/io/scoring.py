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
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from custseg.errors import InputFileError, shown
from custseg.io.readers import (
    DEFAULT_BATCH_ROWS,
    CustomerTable,
    ReadLimits,
    TableSource,
    fields_frame,
)
from custseg.io.writers import (
    ScoredWriter,
    atomic_path,
    check_output_path,
    output_format,
    scored_table,
)
from custseg.model import SegmentationModel
from custseg.schema import ID, duplicate_notes, row_keys
from custseg.scoring import SCORE_COLUMNS, Scored, score_rows

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
        invalid = scores["row_status"].to_numpy() == "invalid"
        self.n_invalid += int(invalid.sum())
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
    """First-pass facts about an input file."""

    n_rows: int
    well_formed: bool
    duplicates: Mapping[int, str]


def scan(source: TableSource, batch_rows: int = DEFAULT_BATCH_ROWS) -> Scan:
    """Count rows, check their shape, and find duplicate ids over the whole file."""
    well_formed = source.check_shape()
    has_id = ID in source.match.fields
    ids: list[pa.ChunkedArray] = []
    keys: list[np.ndarray] = []
    n_rows = 0
    for batch in source.batches(batch_rows, well_formed=well_formed):
        n_rows += batch.data.num_rows
        if has_id:
            frame = fields_frame(batch.data, source.match)
            ids.append(batch.data.column(source.match.fields[ID]))
            keys.append(row_keys(frame))
    duplicates: dict[int, str] = {}
    if has_id and n_rows:
        all_ids = pd.Series(pa.chunked_array([c for i in ids for c in i.chunks],
                                             type=pa.string()).to_pandas(), dtype="str")
        duplicates = duplicate_notes(all_ids, np.concatenate(keys))
    return Scan(n_rows, well_formed, duplicates)


def score_batches(
    model: SegmentationModel,
    source: TableSource,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
):
    """Yield ``(input batch, contract columns)`` for every batch of ``source``."""
    source.match.require(model.encoding.needs)
    facts = scan(source, batch_rows)
    if facts.n_rows == 0:
        raise InputFileError(
            f"{shown(source.name)} has a header but no data rows; there is nothing to score."
        )
    dup_pos = np.fromiter(facts.duplicates.keys(), dtype=np.int64, count=len(facts.duplicates))
    offset = 0
    if progress:
        progress(0, facts.n_rows)
    for batch in source.batches(batch_rows, well_formed=facts.well_formed):
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
) -> ScoreReport:
    """Score ``input_path`` into ``output_path`` (.csv or .parquet), atomically."""
    started = time.perf_counter()
    fmt = output_format(output_path)
    target = check_output_path(output_path, input_path)
    source = TableSource(input_path, mapping=mapping, income_unit=income_unit, limits=limits)
    report = ScoreReport(output=str(target))
    header = _output_header(source.header)
    with atomic_path(target) as tmp, ScoredWriter(str(tmp), fmt) as writer:
        for batch, scored in score_batches(model, source, batch_rows=batch_rows, progress=progress):
            writer.write(scored_table(batch.data, header, scored.columns))
            report.add(scored)
    report.seconds = time.perf_counter() - started
    return report


def score_table_batches(
    model: SegmentationModel, table: CustomerTable, batch_rows: int = 50_000
) -> Iterator[tuple[int, int, pd.DataFrame]]:
    """Score an in-memory table batch by batch: yields (rows done, total, scored batch).

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
        inputs = table.data.slice(start, stop - start).to_pandas()
        inputs.columns = header
        yield stop, total, pd.concat([inputs, scores], axis=1)


def score_table(model: SegmentationModel, table: CustomerTable) -> pd.DataFrame:
    """An in-memory table scored: input columns (text) then the contract columns."""
    parts = [part for _, _, part in score_table_batches(model, table, batch_rows=max(table.n_rows, 1))]
    return pd.concat(parts, ignore_index=True)


def _output_header(header: tuple[str, ...]) -> list[str]:
    """Input headers, with any that clash with a contract column renamed ``<name>_input``.

    Re-scoring a scored file is common; its old segment columns are kept, renamed.
    """
    return [f"{h}_input" if h in SCORE_COLUMNS else h for h in header]


def output_name(input_path: str | os.PathLike[str]) -> str:
    """Default output name for an input: ``customers.csv`` -> ``customers_scored.csv``."""
    path = Path(input_path)
    return str(path.with_name(f"{path.stem}_scored.csv"))
