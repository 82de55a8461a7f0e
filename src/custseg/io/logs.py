"""Transaction logs where a customer table is expected: aggregated in memory, then fitted
or scored as the customer table ``custseg rfm`` would have written.

``custseg fit LOG --transactions`` and ``custseg score MODEL LOG`` go through here: the
log is aggregated by :func:`custseg.io.rfm.aggregate_log` (no file in between), and its
customer table read as any table is (:class:`~custseg.io.source.CustomerTable`). A model
fitted on a log keeps how (:class:`~custseg.table.transactions.LogSpec`), so a new log is
aggregated with the same columns and date format.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from custseg.errors import SchemaError, shown
from custseg.io import formats
from custseg.io.outputs import atomic_path, check_output_path
from custseg.io.rfm import CustomerLog, LogSummary, aggregate_log, log_files
from custseg.io.score_files import ScoreReport, score_table_batches
from custseg.io.source import CustomerTable, ReadLimits, TableSource, number_columns
from custseg.io.writers import ScoredWriter, output_format
from custseg.model.segmentation import SegmentationModel
from custseg.table.headers import match_headers
from custseg.table.parse import NumberFormat
from custseg.table.transactions import OUTPUT_COLUMNS, LogSpec, find_columns


def customer_table(log: CustomerLog, name: str = "log") -> CustomerTable:
    """The customer table of an aggregated log, as text, as reading the file ``custseg
    rfm`` writes would give it (one row per customer, columns :data:`OUTPUT_COLUMNS`)."""
    data = formats.as_text(log.table)
    header = tuple(log.table.column_names)
    match = match_headers(header)
    numbers = NumberFormat().seen(
        {n: data.column(p) for n, p in number_columns(match).items()}, ".")
    return CustomerTable(data=data, header=header, match=match, kind="frame", dialect=None,
                         name=name, number_format=numbers)


def log_spec(log: CustomerLog, date_format: str | None) -> LogSpec:
    """What a model keeps of how ``log`` was aggregated (``date_format``: as given)."""
    return LogSpec.of(log.log_columns, date_format, log.date_format)


def reads_logs(model: SegmentationModel) -> bool:
    """Whether ``model`` was fitted on a log's customers (``fit --transactions``, or
    ``fit`` on ``custseg rfm``'s table), so that a log can be scored with it."""
    return model.log is not None or model.config.spec.returns_only is not None


def input_kind(model: SegmentationModel, header: tuple[str, ...]) -> str:
    """``"log"`` when a file of ``header`` is a transaction log to aggregate for
    ``model``, ``"table"`` when it is a customer table (it has the columns the model
    reads, as ``custseg rfm`` writes them). A model not fitted on a log's customers reads
    tables only."""
    if not reads_logs(model) or set(OUTPUT_COLUMNS) <= set(header):
        return "table"
    spec = model.config.spec
    columns = set(spec.source_columns()) | {
        h for f, h in spec.mapping.items()}
    if columns and columns <= set(header):
        return "table"
    try:
        find_columns(header, dict(model.log.columns) if model.log is not None else None)
    except SchemaError:
        return "table"  # neither: reading it as a table says what it lacks
    return "log"


def aggregate_for(model: SegmentationModel, source: str | os.PathLike[str] | bytes, *,
                  name: str | None = None, as_of: object = None,
                  limits: ReadLimits | None = None,
                  memory_limit: str = "350MB") -> CustomerLog:
    """A new log aggregated as ``model``'s fit aggregated its log: the same columns
    (headers as written), the date format given then, or for dates that cannot tell
    their order, the one read then; a model fitted on ``custseg rfm``'s table finds the
    columns by their headers."""
    spec = model.log
    return aggregate_log(
        source, name=name, columns=dict(spec.columns) if spec is not None else None,
        as_of=as_of, date_format=spec.date_format if spec is not None else None,
        limits=limits, memory_limit=memory_limit,
        date_fallback=spec.date_read if spec is not None else None)


@dataclass
class LogScoreReport(ScoreReport):
    """A scoring run's report, and how its input was read: ``"table"``, or ``"log"``
    with the aggregation's summary (lines read, used, excluded; columns taken)."""

    input_kind: str = "table"
    log: LogSummary | None = field(default=None)

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["input"] = self.input_kind
        if self.log is not None:
            out.update(self.log.to_json_dict())
        return out


def score_log_file(
    model: SegmentationModel,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    as_of: object = None,
    limits: ReadLimits | None = None,
    memory_limit: str = "350MB",
    force: bool = False,
    progress=None,
) -> LogScoreReport:
    """Aggregate the log ``input_path`` as the model's fit did and score its customers
    into ``output_path`` (.csv or .parquet, atomically): one row per customer, the
    customer table's columns then the scored contract columns."""
    started = time.perf_counter()
    fmt = output_format(output_path)
    target = check_output_path(output_path, input_path, *(log_files(input_path) or ()),
                               kind="table", force=force)
    log = aggregate_for(model, input_path, as_of=as_of, limits=limits,
                        memory_limit=memory_limit)
    if log.table.num_rows == 0:
        raise SchemaError(f"{shown(str(input_path))} has no line with a customer to score "
                          "(every line was excluded)")
    table = customer_table(log, Path(input_path).name)
    report = LogScoreReport(output=str(target), input_kind="log", log=log.summary)
    start = 0
    with atomic_path(target) as tmp, ScoredWriter(str(tmp), fmt) as writer:
        for done, total, part in score_table_batches(model, table,
                                                         counted=report.add_drift):
            _tally(report, part)
            if fmt == "parquet":  # the customer table's own types (numbers, dates)
                typed = log.table.slice(start, part.num_rows)
                part = pa.Table.from_arrays(
                    [*typed.columns, *part.columns[typed.num_columns:]],
                    names=part.column_names)
            writer.write(part)
            start = done
            if progress:
                progress(done, total)
    report.seconds = time.perf_counter() - started
    return report


def _tally(report: ScoreReport, part) -> None:
    """Add one scored part's rows, invalid and atypical rows and segments to ``report``."""
    report.add_table(part)


def header_of(path: str | os.PathLike[str], limits: ReadLimits | None = None) -> tuple[str, ...]:
    """A file's header, read without reading its rows."""
    source = TableSource(path, limits=limits, check_income=False, customer_fields=False)
    try:
        return tuple(source.header)
    finally:
        source.close()
