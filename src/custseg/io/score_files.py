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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from custseg.cluster.assignment import AssignmentMemo
from custseg.errors import InputFileError, shown
from custseg.io.formats import Batch
from custseg.io.outputs import atomic_path, check_output_path
from custseg.io.source import (
    DEFAULT_BATCH_ROWS,
    CustomerTable,
    ReadLimits,
    TableSource,
    fields_frame,
)
from custseg.io.writers import ScoredWriter, as_frame, output_format, scored_table
from custseg.model.drift import PSI_FLAG, DriftCounts, drift_message, drift_reference
from custseg.model.scoring import Scored, score_columns, score_rows
from custseg.model.segmentation import SegmentationModel
from custseg.table.fields import ID, INCOME
from custseg.table.headers import HeaderMatch, renamed_clashes
from custseg.table.notes import IdCounts, RepeatedIds, dollar_income_note, row_keys
from custseg.table.parse import NumberFormat

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
    #: Notes about the whole input, said once (a cap on the duplicate search reached).
    warnings: list[str] = field(default_factory=list)
    #: The valid rows counted per bin of each feature (see :mod:`custseg.model.drift`).
    drift: DriftCounts | None = None

    def add(self, scored: Scored) -> None:
        scores = scored.columns
        self.add_drift(scored.drift)
        self.reasons.update(scored.reasons)
        self.notes.update(scored.notes)
        self.n_rows += len(scores)
        # compared in Arrow: a million text cells never become Python objects
        self.n_invalid += int((scores["row_status"] == "invalid").sum())
        self.n_atypical += int(scores["atypical"].fillna(False).to_numpy(dtype=bool).sum())
        counts = scores["segment_id"].value_counts(dropna=True)
        self.segments.update({int(k): int(v) for k, v in counts.items()})

    def add_table(self, part: pa.Table) -> None:
        """Add one scored table's rows, invalid and atypical rows and segments (the
        contract columns read in Arrow), as :meth:`add` adds a :class:`Scored`'s."""
        import pyarrow.compute as pc

        self.n_rows += part.num_rows
        self.n_invalid += int(pc.sum(pc.equal(part.column("row_status"), "invalid")).as_py()
                              or 0)
        self.n_atypical += int(pc.sum(pc.fill_null(part.column("atypical"), False)
                                      .cast("int64")).as_py() or 0)
        counts = pc.value_counts(part.column("segment_id").drop_null())
        self.segments.update({int(c["values"]): int(c["counts"]) for c in counts.to_pylist()})

    def add_drift(self, counts: DriftCounts | None) -> None:
        if counts is not None:
            self.drift = counts if self.drift is None else self.drift + counts

    def drift_warning(self) -> str | None:
        """The warning when a feature's PSI is above the flag (see
        :func:`custseg.model.drift.drift_message`), else None."""
        return None if self.drift is None else drift_message(self.drift)

    def summary(self, model: SegmentationModel) -> dict[str, object]:
        """The document of ``custseg score --json``: rows, invalid and atypical rows, the
        rows of every segment (those with none too), each feature's PSI against the
        customers fitted, the notes said on stderr, and the output written."""
        counts = dict(self.segments)
        names = model.assignable_names
        ids = list(names) + sorted(set(counts) - set(names))
        return {
            "rows": self.n_rows,
            "invalid": self.n_invalid,
            "atypical": self.n_atypical,
            "segments": [{"id": int(i), "name": names.get(i), "count": int(counts.get(i, 0))}
                         for i in ids],
            "drift": [] if self.drift is None else self.drift.to_list(),
            "drift_rows": 0 if self.drift is None else self.drift.n_rows,
            "drift_threshold": PSI_FLAG,
            "reasons": dict(self.reasons),
            "warnings": list(self.warnings)
            + ([w] if (w := self.drift_warning()) is not None else []),
            "output": self.output,
        }

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
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Scan:
    """First-pass facts about an input file (its shape is recorded on the source)."""

    n_rows: int
    #: The repeated customer ids and their groups of rows (None: no id repeats).
    repeats: RepeatedIds | None = None
    #: Position of the file's first row when it is one of several (the Dask engine's
    #: parts): rows are numbered through all the files.
    start: int = 0
    #: File-level notes (a cap on the duplicate search reached), said once.
    warnings: tuple[str, ...] = ()
    #: How the input writes its numbers, decided over every row (of every file, for the
    #: Dask engine) so that a cell reads the same in every batch.
    number_format: NumberFormat | None = None


def scan(source: TableSource, batch_rows: int = DEFAULT_BATCH_ROWS) -> Scan:
    """Count rows, check their shape, and find duplicate ids over the whole file.

    A quick pass converts only the id column and keeps a hash per distinct id; only when
    some id repeats does a second pass read the field values, to group the repeated ids'
    rows and tell same-value duplicates from conflicting ones. Memory is bounded by the
    caps of :mod:`custseg.table.notes`, never by the length of the file.
    """
    n_rows, counts = count_ids(source, batch_rows)
    repeated, warnings = counts.repeated(), counts.warnings()
    del counts  # the distinct ids' hashes: not needed by the second pass
    if not len(repeated):
        return Scan(n_rows, warnings=tuple(warnings), number_format=source.number_format)
    repeats = group_repeats(source, repeated, batch_rows)
    return Scan(n_rows, repeats, warnings=tuple(warnings + repeats.warnings()),
                number_format=source.number_format)


def count_ids(source: TableSource, batch_rows: int = DEFAULT_BATCH_ROWS) -> tuple[int, IdCounts]:
    """The rows of a file, and its ids counted (first pass of :func:`scan`, which also
    decides the file's :attr:`~TableSource.number_format`)."""
    position = source.match.fields.get(ID)
    counts = IdCounts()
    n_rows = 0
    for batch in source.batches(batch_rows, column=position or 0):
        n_rows += batch.data.num_rows
        if position is not None:
            counts.add(batch.data.column(0))
    return n_rows, counts


def group_repeats(source: TableSource, repeated: np.ndarray,
                  batch_rows: int = DEFAULT_BATCH_ROWS, start: int = 0) -> RepeatedIds:
    """The groups of rows of the repeated id hashes in one file whose first row is at
    position ``start`` (second pass of :func:`scan`)."""
    return _grouped((b.data for b in source.batches(batch_rows)), source.match, repeated, start)


def table_repeats(table: CustomerTable, batch_rows: int = DEFAULT_BATCH_ROWS) -> RepeatedIds | None:
    """The repeated ids of an in-memory table (as :func:`scan` finds them in a file)."""
    position = table.match.fields.get(ID)
    if position is None:
        return None
    slices = [table.data.slice(start, batch_rows)
              for start in range(0, table.n_rows, max(batch_rows, 1))]
    counts = IdCounts()
    for part in slices:
        counts.add(part.column(position))
    repeated = counts.repeated()
    return _grouped(slices, table.match, repeated) if len(repeated) else None


def _grouped(tables: Iterable[pa.Table], match: HeaderMatch, repeated: np.ndarray,
             start: int = 0) -> RepeatedIds:
    groups = RepeatedIds(repeated)
    position = match.fields[ID]
    for data in tables:

        def keys_of(where: np.ndarray, data: pa.Table = data) -> np.ndarray:
            return row_keys(fields_frame(data.take(pa.array(where)), match))

        groups.add(data.column(position), start, keys_of)
        start += data.num_rows
    return groups


def score_batches(
    model: SegmentationModel,
    source: TableSource,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
    facts: Scan | None = None,
    empty_ok: bool = False,
):
    """Yield ``(input batch, scored rows)`` for every batch of ``source``.

    ``facts`` are the first pass's findings when the caller made it (the Dask engine
    does, over all its files at once); otherwise the first pass runs here. A file with a
    header and no rows is refused, unless ``empty_ok`` (one part of several, which adds
    no rows): then it is one batch of no rows, so that its output has the header.
    """
    source.expect(model.encoding.needs, model.config.spec)
    facts = facts if facts is not None else scan(source, batch_rows)
    batches: Iterable[Batch] = source.batches(batch_rows)
    if facts.n_rows == 0:
        if not empty_ok:
            raise InputFileError(
                f"{shown(source.name)} has a header but no data rows; there is nothing to "
                "score."
            )
        batches = [Batch(pa.table({f"c{i}": pa.array([], pa.string())
                                   for i in range(len(source.header))}))]
    id_position = source.match.fields.get(ID)
    number_format = facts.number_format or source.number_format
    if source.number_format is None:
        source.number_format = number_format  # the first batch's income check uses it
    offset = 0
    memo = AssignmentMemo()
    reference = drift_reference(model)
    if progress:
        progress(0, facts.n_rows)
    for batch in batches:
        n = batch.data.num_rows
        notes = ({} if facts.repeats is None or id_position is None
                 else facts.repeats.notes(batch.data.column(id_position), facts.start + offset))
        scored = score_rows(
            model,
            fields_frame(batch.data, source.match),
            decimal=source.decimal,
            income_unit=source.match.income_unit,
            duplicates=notes,
            structural=batch.structural,
            memo=memo,
            number_format=number_format,
            drift=reference,
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
    source = TableSource(input_path, mapping={**model.config.spec.mapping, **(mapping or {})},
                         income_unit=income_unit, limits=limits)
    report = ScoreReport(output=str(target))
    try:
        with atomic_path(target) as tmp:
            write_scored(model, source, tmp, fmt, report, batch_rows=batch_rows,
                         progress=progress, typed=True)
    finally:
        source.close()
    report.seconds = time.perf_counter() - started
    return report


def income_warnings(match: HeaderMatch, numbers: NumberFormat | None) -> list[str]:
    """What scoring says about the income column's unit when its header names none:
    read in dollars because its values say so, or in the model's unit (dollars) when
    its values look like thousands."""
    if INCOME not in match.fields:
        return []
    note = dollar_income_note(match.source(INCOME), match.income_unit_source)
    if note:
        return [note]
    if (match.income_unit_source == "model" and match.income_unit == "$"
            and numbers is not None and numbers.incomes[0] and not numbers.dollar_incomes):
        return [f"the income column {shown(match.source(INCOME))} has no unit in its header: "
                "read in dollars, as the model's fit read its incomes, though most of its "
                "values are below 1,000. If they are thousands of dollars, state the unit "
                "'k$'"]
    return []


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
    empty_ok: bool = False,
    typed: bool = False,
) -> None:
    """Stream ``source`` through ``model`` into ``path``, adding to ``report``
    (``empty_ok``: see :func:`score_batches`). With ``typed``, a Parquet output keeps a
    Parquet input's column types (one file: the parts of a Dask output share one
    schema, text)."""
    header = _output_header(source.header, model)
    if facts is None:
        source.expect(model.encoding.needs, model.config.spec)
        facts = scan(source, batch_rows)
    report.warnings.extend(facts.warnings)
    report.warnings.extend(income_warnings(source.match, facts.number_format
                                           or source.number_format))
    with ScoredWriter(str(path), fmt) as writer:
        for batch, scored in score_batches(
            model, source, batch_rows=batch_rows, progress=progress, facts=facts,
            empty_ok=empty_ok,
        ):
            # Parquet to Parquet: the input columns keep their types (text otherwise)
            data = (batch.typed if typed and fmt == "parquet" and batch.typed is not None
                    else batch.data)
            writer.write(scored_table(data, header, scored.columns))
            report.add(scored)


def score_table_batches(
    model: SegmentationModel, table: CustomerTable, batch_rows: int = 50_000,
    counted: Callable[[DriftCounts], None] | None = None,
) -> Iterator[tuple[int, int, pa.Table]]:
    """Score an in-memory table batch by batch: yields (rows done, total, scored batch)
    — the batch's input columns under their own headers (repeated or blank ones
    included), then the contract columns.

    Duplicate ids are found over the whole table first, so the result is the same as
    one pass; the batches let a caller show progress. ``counted`` is given each batch's
    drift counts (see :mod:`custseg.model.drift`), when a caller wants them.
    """
    table = table.expect(model.encoding.needs, model.config.spec)
    frame = table.fields_frame()
    number_format = table.number_format or NumberFormat().seen(
        {name: frame[name] for name in frame.columns}, table.decimal)
    repeats = table_repeats(table, batch_rows)
    id_position = table.match.fields.get(ID)
    header = _output_header(table.header, model)
    total = table.n_rows
    reference = drift_reference(model) if counted is not None else None
    for start in range(0, max(total, 1), batch_rows):
        stop = min(start + batch_rows, total)
        notes = ({} if repeats is None else
                 repeats.notes(table.data.column(id_position).slice(start, stop - start), start))
        scored = score_rows(
            model,
            frame.iloc[start:stop].reset_index(drop=True),
            decimal=table.decimal,
            income_unit=table.match.income_unit,
            duplicates=notes,
            structural={k - start: v for k, v in table.structural.items() if start <= k < stop},
            number_format=number_format,
            drift=reference,
        )
        scores = scored.columns
        if counted is not None and scored.drift is not None:
            counted(scored.drift)
        yield stop, total, scored_table(table.data.slice(start, stop - start), header, scores)


def score_table(model: SegmentationModel, table: CustomerTable) -> pd.DataFrame:
    """An in-memory table scored: input columns (text) then the contract columns.

    A header that repeats a name, or leaves one blank, gets distinct column names in the
    DataFrame (``Notes (2)``, ``(blank)``); files written keep the header as it was.
    """
    parts = [part for _, _, part in score_table_batches(model, table, batch_rows=max(table.n_rows, 1))]
    return as_frame(pa.concat_tables(parts))


def _output_header(header: tuple[str, ...], model: SegmentationModel) -> list[str]:
    """Input headers, with any that clash with a column scoring adds (the contract's, an
    RFM model's scores) renamed ``<name>_input``.

    Re-scoring a scored file is common; its old segment columns are kept, renamed.
    """
    return renamed_clashes(header, list(score_columns(model)))

