"""A transaction log to one row per customer (recency, frequency, monetary…), on DuckDB.

The log is read once, in batches, by :class:`~custseg.io.source.TableSource` (every
format, the hostile-input rules and caps of customer tables), and the cells the
aggregation needs go as text into an embedded DuckDB table, which spills to a temporary
folder when it outgrows memory. Then every column-wide decision is made on the column's
*distinct* cells, with the project's own readers: the date format over the whole date
column (:mod:`custseg.table.dates`), the number format over the whole file
(:mod:`custseg.table.parse`), customer ids and cancellations by
:mod:`custseg.table.transactions`' rules. Their readings are joined back to the lines and
DuckDB groups them by customer, multi-threaded.
"""

from __future__ import annotations

import glob as globlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custseg.errors import InputFileError, ParameterError, SchemaError, shown
from custseg.io import formats
from custseg.io.source import ReadLimits, TableSource, number_columns
from custseg.table.cells import Cells, distinct_cells
from custseg.table.dates import DateFormat, decide_date_format, parse_dates
from custseg.table.headers import HeaderMatch
from custseg.table.parse import OK, NumberFormat, parse_numbers
from custseg.table.spec import date_format_from_text, date_format_text
from custseg.table.transactions import (
    BAD_AMOUNT,
    BAD_DATE,
    BAD_PRICE,
    BAD_QUANTITY,
    CANCELLATION,
    FLOAT_INTEGER,
    MALFORMED,
    NO_CUSTOMER,
    OUTPUT_COLUMNS,
    REASONS,
    TOO_LARGE,
    UCI_SHAPE,
    ZERO_FRACTION,
    LogColumns,
    customer_ids,
    find_columns,
    uci_parts,
)

_EPOCH = date(1970, 1, 1)
#: The last day a date can be written (9999-12-31), in days since :data:`_EPOCH`.
_LAST_DAY = (date.max - _EPOCH).days
#: The raw table's text columns, by log role.
_RAW = {"customer": "cust", "date": "dt", "invoice": "inv", "amount": "a", "quantity": "q",
        "price": "p"}


@dataclass(frozen=True)
class LogSummary:
    """What :func:`aggregate_log` did: the lines read, used and excluded by reason, the
    identical lines, the customers, the columns taken and the as-of date."""

    read: int
    used: int
    excluded: Mapping[str, int]
    duplicate_lines: int
    customers: int
    columns: Mapping[str, str | None]
    as_of: str | None

    def to_json_dict(self) -> dict[str, Any]:
        return {"lines": {"read": self.read, "used": self.used, "excluded": dict(self.excluded)},
                "duplicate_lines": self.duplicate_lines, "customers": self.customers,
                "columns": dict(self.columns), "as_of": self.as_of}


@dataclass(frozen=True)
class CustomerLog:
    """The customer table of a log (columns :data:`OUTPUT_COLUMNS`) and its summary."""

    table: pa.Table
    summary: LogSummary
    log_columns: LogColumns = field(repr=False, default=None)  # type: ignore[assignment]
    #: The date column's format as decided (or given), as a model file keeps it
    #: (:func:`custseg.table.spec.date_format_text`).
    date_format: str | None = None


def _as_of_day(as_of: date | str | None) -> int | None:
    if as_of is None:
        return None
    if isinstance(as_of, str):
        try:
            as_of = date.fromisoformat(as_of.strip())
        except ValueError:
            raise ParameterError(f"the as-of date {shown(as_of)} is not a date written "
                                 "YYYY-MM-DD", parameter="as_of") from None
    return (as_of - _EPOCH).days


def _iso(day: int) -> str:
    return date.fromordinal(_EPOCH.toordinal() + int(day)).isoformat()


def aggregate_log(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    columns: Mapping[str, str | None] | None = None,
    as_of: date | str | None = None,
    date_format: str | None = None,
    limits: ReadLimits | None = None,
    memory_limit: str = "350MB",
    date_fallback: str | None = None,
) -> CustomerLog:
    """One row per customer of the transaction log ``source``: a file (or its bytes), or
    a folder or a glob of the log's files (see :func:`log_files`), aggregated as the files
    concatenated: the same header in every file (refused, naming the file that differs),
    the log-wide decisions (date order, "C" cancellations, number format) taken over all
    of them, a customer's lines summed whichever files they are in.

    Parameters
    ----------
    columns
        Role (customer, date, invoice, amount, quantity, price) -> header as written, for
        the columns the alias table does not find (see
        :func:`custseg.table.transactions.find_columns`).
    as_of
        The day recency and tenure are counted to (default: the day after the latest
        purchase); refused when before the latest purchase.
    date_format
        The date column's strftime format, when its order cannot be told from its cells.
    memory_limit
        DuckDB's memory limit (``"1GB"``); beyond it, the lines and the group-by spill to
        a temporary folder (while the log is read, DuckDB has 60% of it). With the
        default, the demo log of 10 million lines of CSV (833,333 customers) peaked at
        0.70 GB for the whole process, 50 million lines of Parquet (4.2 million
        customers) at 0.88 GB; the peak grows with the customers.
    date_fallback
        A decided date format (as :attr:`CustomerLog.date_format` gives it: a model's)
        for a date column whose order its own cells cannot tell: a new log scored with
        the model of an earlier one reads its dates as the earlier one did.
    """
    as_of_day = _as_of_day(as_of)
    files = log_files(source)
    if files is None:
        parts: list[tuple[Any, str | None]] = [(source, name)]
    else:
        from custseg.io.dask_engine import _display_names

        parts = list(zip(files, _display_names(files), strict=True))
    memory_bytes(memory_limit)  # refused before any work
    with duckdb_errors(memory_limit):
        return _aggregate(parts, columns, limits, as_of_day, date_format, memory_limit,
                          date_fallback)


def log_files(source: str | os.PathLike[str] | bytes) -> list[Path] | None:
    """The files of a log named by a folder or a glob (sorted, as
    :func:`custseg.io.dask_engine.expand_inputs` finds them; an error when none), or None
    for one file (or bytes, or a path that names nothing, which its reader refuses by
    name)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return None
    text = os.fspath(source)
    path = Path(text)
    if path.is_dir() or (not path.exists() and globlib.has_magic(text)):
        from custseg.io.dask_engine import expand_inputs  # not loaded for one file

        return expand_inputs(text)
    return None


def check_same_header(name: str, header: tuple[str, ...], first_name: str,
                      first: tuple[str, ...]) -> None:
    """Refuse a file of a log whose header is not the first file's (names, order)."""
    if header == first:
        return
    from custseg.io.dask_engine import _header_difference

    raise InputFileError(
        f"{_header_difference(name, header, first_name, first)}; the files of one log "
        "need the same header (the same column names, in the same order). Aggregate the "
        "files that differ on their own.")


def rfm_file(
    data: str | os.PathLike[str] | bytes,
    output: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    columns: Mapping[str, str | None] | None = None,
    as_of: date | str | None = None,
    date_format: str | None = None,
    limits: ReadLimits | None = None,
    force: bool = False,
    memory_limit: str = "350MB",
    engine: str = "local",
    scheduler: str | None = None,
) -> CustomerLog:
    """:func:`custseg.api.rfm`: the log's customer table, written to ``output`` (CSV or
    Parquet, atomically, never over an input) when given, on the ``engine`` said.

    Here rather than in the api so that ``custseg rfm`` loads no more than it needs (the
    api module imports scikit-learn, seconds of start-up the aggregation has no use for).
    """
    from custseg.io.outputs import atomic_path, check_output_path
    from custseg.io.writers import ScoredWriter, output_format

    if engine not in ("local", "dask"):
        raise ParameterError(f"the engine {shown(engine)} is not one of local, dask",
                             parameter="engine")
    if scheduler is not None and engine != "dask":
        raise ParameterError("a scheduler only applies with the Dask engine (engine='dask')",
                             parameter="scheduler")
    upload = isinstance(data, bytes | bytearray | memoryview)
    dask = engine == "dask"
    if dask and upload:
        raise ParameterError("the Dask engine reads its files by name, on its workers; "
                             "save the upload to a file first", parameter="engine")
    target = None
    if output is not None:
        fmt = output_format(output)
        if upload:
            inputs: tuple[Any, ...] = ()
        elif dask:
            from custseg.io.dask_engine import expand_inputs

            inputs = tuple(expand_inputs(data))  # never over one of the log's files
        else:
            inputs = tuple(log_files(data) or (data,))
        target = check_output_path(output, *inputs, kind="table", force=force)
    if dask:
        from custseg.io.rfm_dask import aggregate_log_dask

        # with a scheduler, the lines go through a folder beside the output: the
        # workers see it where they see the output
        result = aggregate_log_dask(
            data, columns=columns, as_of=as_of, date_format=date_format, limits=limits,
            memory_limit=memory_limit, scheduler=scheduler,
            workdir=None if target is None or scheduler is None else target.parent)
    else:
        result = aggregate_log(data, name=name, columns=columns, as_of=as_of,
                               date_format=date_format, limits=limits,
                               memory_limit=memory_limit)
    if target is not None:
        with atomic_path(target) as tmp, ScoredWriter(str(tmp), fmt) as writer:
            writer.write(result.table)
    return result


def _aggregate(parts: list[tuple[Any, str | None]], columns: Mapping[str, str | None] | None,
               limits: ReadLimits | None, as_of_day: int | None, date_format: str | None,
               memory_limit: str, date_fallback: str | None = None) -> CustomerLog:
    """The log of one or more files (``parts``: source and display name, in order): each
    file's lines loaded and its facts found, the decisions taken over every file's facts,
    then one group-by over all the lines, as for the files concatenated."""
    con, spill = _connect(memory_limit)
    try:
        found: list[LogFacts] = []
        cols: LogColumns | None = None
        for i, (source, name) in enumerate(parts):
            log = TableSource(source, name=name, limits=limits, check_income=False,
                              customer_fields=False)
            try:
                if cols is None:
                    cols = find_columns(log.header, columns)
                    log.log_customer(cols.customer, cols.numbers())
                else:
                    log.log_customer(cols.customer, cols.numbers())
                    check_same_header(str(name), tuple(log.header), str(parts[0][1]),
                                      found[0].header)
                _load(con, log, cols, memory_limit)
                _ids(con)  # the facts look at the lines with a customer id
                found.append(facts(con, log, cols))
            finally:
                log.close()
            if len(parts) > 1:  # the file's lines join the log's
                con.execute("DROP TABLE ids; " + (
                    "ALTER TABLE raw RENAME TO every_line" if i == 0 else
                    "INSERT INTO every_line SELECT * FROM raw; DROP TABLE raw"))
        if len(parts) > 1:
            con.execute("ALTER TABLE every_line RENAME TO raw")
            _ids(con)
        assert cols is not None
        decided = decide(found, cols, date_format, date_fallback)
        _readings(con, cols, decided)
        _lines(con, cols, decided, cid=_CID)
        sums = _sums(con)
    finally:
        con.close()  # DuckDB's memory given back before the customer table is made
        shutil.rmtree(spill, ignore_errors=True)
    return replace(finish(sums, cols, as_of_day),
                   date_format=date_format_text(decided.date_format))


#: Memory units DuckDB reads, in bytes (1000^i and 1024^i).
_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*")
#: The least memory the aggregation is given: below it DuckDB cannot run its group-by.
MIN_MEMORY = 32 * 10**6


def memory_bytes(memory_limit: str) -> int:
    """The bytes of a memory limit written as DuckDB reads it (``350MB``, ``1.5GB``,
    ``512MiB``); refused when it is not one, or under 32 MB."""
    found = _SIZE.fullmatch(str(memory_limit))
    unit = _UNITS.get(found.group(2).upper()) if found else None
    if found is None or unit is None:
        raise ParameterError(
            f"the memory limit {shown(memory_limit)} is not a size; give a number and a "
            "unit, such as 350MB, 2GB or 512MiB", parameter="memory_limit", key="2GB")
    size = int(float(found.group(1)) * unit)
    if size < MIN_MEMORY:
        raise ParameterError(f"the memory limit {shown(memory_limit)} is under 32MB, too "
                             "little for the aggregation; give at least 32MB",
                             parameter="memory_limit", key="350MB")
    return size


def _more_memory(memory_limit: str) -> str:
    """Twice ``memory_limit``, written for the user (``700MB``, ``1.4GB``)."""
    twice = 2 * memory_bytes(memory_limit)
    return f"{twice / 1e9:.3g}GB" if twice >= 10**9 else f"{twice // 10**6}MB"


@contextmanager
def duckdb_errors(memory_limit: str) -> Iterator[None]:
    """DuckDB's errors as the user's: out of memory (say to raise the limit), a temporary
    folder that cannot be written (say where, and to free space); any other error of
    DuckDB is an internal one and goes through as it is."""
    import duckdb

    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        raise InputFileError(
            f"the log's aggregation ran out of memory within its limit of {memory_limit} "
            f"(DuckDB: {_first_line(exc)}); give it more memory",
            parameter="memory_limit", key=_more_memory(memory_limit)) from None
    except (duckdb.IOException, duckdb.PermissionException) as exc:
        raise InputFileError(
            "the log's aggregation could not write to its temporary folder in "
            f"{shown(tempfile.gettempdir(), 60)} (DuckDB: {_first_line(exc)}); free disk "
            "space there, or set TMPDIR to a folder with room (a log of 50 million lines "
            "needs a few GB)") from None


def _first_line(exc: BaseException) -> str:
    """An error's first line (DuckDB's go on with advice on its own SQL settings)."""
    text = str(exc).strip().splitlines()
    return shown(text[0] if text else type(exc).__name__, 160)


def _connect(memory_limit: str) -> tuple[Any, str]:
    """An embedded DuckDB database limited to ``memory_limit``, spilling to a temporary
    folder of its own (removed by the caller); no progress bar (DuckDB prints one to
    standard output on long queries: into the output of a pipe, or a server's log)."""
    import duckdb

    memory_bytes(memory_limit)
    spill = tempfile.mkdtemp(prefix="custseg-rfm-")
    try:
        con = duckdb.connect(config={"temp_directory": spill,
                                     "preserve_insertion_order": False,
                                     "memory_limit": memory_limit})
        con.execute("SET enable_progress_bar = false")  # a session's setting, not config
    except BaseException:
        shutil.rmtree(spill, ignore_errors=True)
        raise
    return con, spill


#: The share of the memory limit DuckDB is given while the log is read: the reader
#: holds memory of its own at the same time (its batches, pyarrow's buffers), and the
#: two together made the whole run's peak (50M lines of Parquet: 1.04 GB at 350MB).
_LOADING_SHARE = 0.6


def _load(con: Any, log: TableSource, cols: LogColumns, memory_limit: str | None = None
          ) -> None:
    """Every line's cells the aggregation needs, as text, and a hash of the whole line.

    The customer and invoice cells are split once, here, into the :func:`_plain_cells` ones
    (``cid0``: the customer id, an id written ``12923.0`` read as ``12923``; ``key0``:
    the invoice) and the others (``cust_odd``, ``inv_odd``: null where plain), which
    Python reads by the rules (:func:`_ids`, :func:`_readings`). Each later step takes
    the column it needs; testing every cell again in each took a fifth of the time.

    The batches stream into DuckDB as one arrow stream and one ``CREATE TABLE AS``
    (DuckDB pulls them as it inserts; inserting batch by batch, each its own statement,
    took twice as long as reading). An error of the reader (a row cap, an undecodable
    byte) is kept and raised as it was, not as DuckDB's wrapping of it."""
    every = ", ".join(f'"{formats.column_name(i)}"' for i in range(len(log.header)))
    picks = []
    for role, column in _RAW.items():
        pos = getattr(cols, role)
        picks.append(f'CAST("{formats.column_name(pos)}" AS VARCHAR) AS {column}'
                     if pos is not None else f"CAST(NULL AS VARCHAR) AS {column}")
    failed: list[BaseException] = []

    def lines() -> Any:
        seen = 0
        try:
            for batch in log.batches():
                data = batch.data
                bad = np.zeros(data.num_rows, dtype=bool)
                unsplit = None
                if batch.structural:
                    rows = np.fromiter(batch.structural, dtype=np.int64)
                    bad[rows] = True
                    unsplit = _unsplit(data, rows, seen)
                data = data.append_column("bad", pa.array(bad))
                data = data.append_column("u", pa.nulls(data.num_rows, pa.int64())
                                          if unsplit is None else unsplit)
                seen += data.num_rows
                for part in data.cast(cells).to_batches():
                    yield pa.RecordBatch.from_arrays(
                        [*part.columns, _plain_cells(part.column(customer)),
                         _plain_cells(part.column(invoice)) if invoice is not None
                         else pa.nulls(part.num_rows, pa.bool_())], schema=schema)
        except BaseException as exc:  # noqa: BLE001 - raised again below, as it was
            failed.append(exc)

    cells = pa.schema([pa.field(formats.column_name(i), pa.string())
                       for i in range(len(log.header))]
                      + [pa.field("bad", pa.bool_()), pa.field("u", pa.int64())])
    schema = cells.append(pa.field("cp", pa.bool_())).append(pa.field("ip", pa.bool_()))
    customer = formats.column_name(cols.customer)
    invoice = None if cols.invoice is None else formats.column_name(cols.invoice)
    reader = pa.RecordBatchReader.from_batches(schema, lines())
    con.register("batch", reader)
    # a line's hash is of its cells; a line not split into cells has none (every cell
    # null), so its hash is of its place: it is identical to no other line
    h = f"CASE WHEN u IS NULL THEN hash({every}) ELSE hash(u, 'unsplit') END"
    if memory_limit is not None:
        loading = max(MIN_MEMORY, int(_LOADING_SHARE * memory_bytes(memory_limit)))
        con.execute(f"SET memory_limit = '{loading // 10**6}MB'")
    try:
        con.execute(f"""
            CREATE TABLE raw AS
            SELECT CASE WHEN cp THEN CASE WHEN contains(cust, '.')
                                           AND regexp_matches(cust, '{FLOAT_INTEGER}')
                                      THEN regexp_replace(cust, '{ZERO_FRACTION}', '')
                                      ELSE cust END END AS cid0,
                   CASE WHEN NOT coalesce(cp, false) THEN cust END AS cust_odd,
                   dt,
                   CASE WHEN ip THEN inv END AS key0,
                   CASE WHEN NOT coalesce(ip, false) THEN inv END AS inv_odd,
                   a, q, p, bad, h
            FROM (SELECT {', '.join(picks)}, bad, {h} AS h, cp, ip FROM batch)
        """)
    except Exception:
        if failed:
            raise failed[0] from None
        raise
    finally:
        con.unregister("batch")
        if memory_limit is not None:
            con.execute(f"SET memory_limit = '{memory_bytes(memory_limit) // 10**6}MB'")
        # the reader's buffers, freed, go back to the system, not kept for reuse
        pa.default_memory_pool().release_unused()
    if failed:
        raise failed[0]


def _unsplit(data: pa.Table, rows: np.ndarray, offset: int) -> pa.Array | None:
    """Per line of the batch ``data``, its place in the log (``offset`` + row) when it
    is one of the structural ``rows`` that could not be split into cells (every cell
    null, see :class:`custseg.io.formats.Unsplit`), else null; None when there is none."""
    taken = data.take(pa.array(rows))
    empty = np.ones(len(rows), dtype=bool)
    for column in taken.columns:
        empty &= np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if not empty.any():
        return None
    place = np.zeros(data.num_rows, dtype=np.int64)
    mask = np.ones(data.num_rows, dtype=bool)
    place[rows[empty]] = offset + rows[empty]
    mask[rows[empty]] = False
    return pa.array(place, mask=mask)


def _plain_cells(cells: pa.Array) -> pa.Array:
    """Per cell of a text column, whether it is plain: it begins and ends with a
    printable ASCII character other than a space, so no trimming changes it and it is
    not blank. Read from each cell's first and last bytes, in numpy (every byte of a
    multi-byte character is above ``~``); null for a null cell."""
    if not pa.types.is_string(cells.type):
        cells = cells.cast(pa.string())
    n = len(cells)
    _, offsets_buffer, data_buffer = cells.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=n + 1, offset=4 * cells.offset)
    data = (np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None
            and data_buffer.size else np.zeros(1, dtype=np.uint8))
    start, end = offsets[:-1], offsets[1:]
    given = end > start
    first = data[np.where(given, start, 0)]
    last = data[np.where(given, end - 1, 0)]
    plain = given & (first >= 0x21) & (first <= 0x7E) & (last >= 0x21) & (last <= 0x7E)
    return pa.array(plain, mask=cells.is_null().to_numpy(zero_copy_only=False)
                    if cells.null_count else None)


#: SQL: a line's customer id, read in SQL from a plain cell (``r.cid0``), else from the
#: ``ids`` lookup (``i``, joined on ``r.cust_odd``) of the cells that are not
#: :func:`_plain_cells`.
_CID = "coalesce(r.cid0, i.cid)"


def _distinct(con: Any, column: str) -> pa.Table:
    """The distinct cells of a column of ``raw`` and their counts, on the lines split
    into cells (not null: a column odd cells only are kept in holds null elsewhere)."""
    return con.sql(f"SELECT {column} AS raw, count(*) AS n FROM raw WHERE NOT bad "
                   f"AND {column} IS NOT NULL GROUP BY {column}").to_arrow_table()


def _string(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    return values.cast(pa.string())


def _ids(con: Any) -> None:
    """The ``ids`` lookup: each distinct customer cell that is not :func:`_plain_cells`, read
    by the rules in Python (a plain cell trims to itself, so :data:`_CID` reads it in
    SQL with the rules' own RE2 patterns, as pyarrow's)."""
    raw = _string(_distinct(con, "cust_odd").column("raw"))
    con.register("ids_t", pa.table({"raw": raw, "cid": customer_ids(raw)}))
    con.execute("CREATE TABLE ids AS SELECT * FROM ids_t")
    con.unregister("ids_t")


@dataclass(frozen=True)
class LogFacts:
    """What the log-wide decisions need from a log, or from one file of it: the date
    column's distinct cells and their counts, whether some invoice is a UCI
    cancellation and whether every invoice could be UCI-style, how the numbers are
    written, and the header read."""

    dates: pa.Table
    uci_some: bool
    uci_digits: bool
    uci_every: bool
    number_format: NumberFormat
    decimal: str
    header: tuple[str, ...]
    match: HeaderMatch = field(repr=False)
    #: The lines read, and those of them split into the header's columns (not
    #: malformed).
    lines: int = 0
    split: int = 0


@dataclass(frozen=True)
class Decisions:
    """The log-wide decisions, taken once over the whole log (every file of it)."""

    date_format: DateFormat
    uci: bool
    decimal: str
    #: Role (amount, quantity, price) -> the column's cell that writes the grouping mark
    #: as a decimal mark, anywhere in the log (see :class:`NumberFormat`), or None.
    mixed: Mapping[str, str | None]
    #: The whole log's distinct date cells as written, and as the date reader sees them
    #: (trimmed, missing markers apart), which the format was decided on: the lines' dates
    #: are read from them (:func:`_readings`) without finding them again. None once sent
    #: to the Dask engine's workers, each of which reads its own part's.
    date_cells: tuple[pa.Array, Cells] | None = field(default=None, compare=False, repr=False)


def facts(con: Any, log: TableSource, cols: LogColumns) -> LogFacts:
    """The facts of the lines loaded in ``raw`` (see :class:`LogFacts`); the UCI
    invoices' over the lines with a customer id (``ids`` made already), whose invoices
    are orders: a line without one is never used, and in the UCI log it holds
    adjustments (``A563185``) that are no invoices of its customers."""
    dates = _distinct(con, "dt")
    lines, split = con.execute("SELECT count(*), count(*) FILTER (WHERE NOT bad) FROM raw"
                               ).fetchall()[0]
    some, digits, every = False, False, True
    if cols.invoice is not None:
        customer = ("FROM raw r LEFT JOIN ids i ON r.cust_odd = i.raw WHERE NOT r.bad "
                    "AND (r.cid0 IS NOT NULL OR i.cid IS NOT NULL)")
        invoices = _string(con.sql(
            f"SELECT DISTINCT r.inv_odd AS raw {customer} AND r.inv_odd IS NOT NULL"
        ).to_arrow_table().column("raw"))
        key = pc.utf8_trim_whitespace(invoices)
        key = pc.if_else(pc.equal(key, ""), pa.scalar(None, pa.string()), key)
        some, digits, every = uci_parts(key.drop_null())
        # one pattern for both kinds (C + digits, or digits alone: CANCELLATION or
        # DIGITS), then which of the two by the first letter
        shaped = f"regexp_full_match(r.key0, '{UCI_SHAPE}')"
        plain = con.execute(
            f"SELECT coalesce(bool_or({shaped} AND starts_with(r.key0, 'C')), false), "
            f"coalesce(bool_or({shaped} AND NOT starts_with(r.key0, 'C')), false), "
            f"coalesce(bool_and({shaped}), true) "
            f"{customer} AND r.key0 IS NOT NULL").fetchall()[0]
        some, digits = bool(some or plain[0]), bool(digits or plain[1])
        every = bool(every and plain[2])
    return LogFacts(dates, some, digits, every, log.number_format or NumberFormat(),
                    log.decimal, tuple(log.header), log.match, int(lines), int(split))


def decide(parts: list[LogFacts], cols: LogColumns, date_format: str | None,
           date_fallback: str | None = None) -> Decisions:
    """The log-wide decisions over the facts of every part of a log, in file order: the
    date format over the distinct cells of the whole date column (sorted, so the
    decision never depends on the order lines were grouped in), UCI cancellations when
    some invoice anywhere is one, some is digits alone and every invoice everywhere is
    UCI-style (see :func:`~custseg.table.transactions.uci_cancellations`), the number
    format of all the files together. ``date_fallback`` (a model's decided format, see
    :func:`aggregate_log`) reads a date column whose own cells cannot tell their order."""
    lines = sum(p.lines for p in parts)
    if lines == 0:
        raise InputFileError("the log has a header but no lines; there is nothing to "
                             "aggregate")
    if sum(p.split for p in parts) == 0:
        raise InputFileError(
            f"every one of the log's {lines:,} lines is a malformed row (more or fewer "
            f"fields than its header's {len(parts[0].header)} columns, a broken quote, or "
            "a summary row such as 'Total'); there is nothing to aggregate: check that "
            "the file is the log, and its delimiter and quoting")
    if len({p.decimal for p in parts}) > 1:
        raise SchemaError(
            "the log's files write decimals differently (some with a point, some with a "
            "comma); they are not parts of one log: aggregate them apart, or write them "
            "alike")
    if len(parts) == 1:  # distinct already
        found = parts[0].dates.sort_by("raw")
    else:
        found = (pa.concat_tables([p.dates for p in parts]).group_by("raw")
                 .aggregate([("n", "sum")]).select(["raw", "n_sum"])
                 .rename_columns(["raw", "n"]).sort_by("raw"))
    raw = _string(found.column("raw"))
    base = distinct_cells(raw)
    given = base.index >= 0
    weights = found.column("n").to_numpy().astype(np.int64)
    counts = np.bincount(base.index[given], weights=weights[given],
                         minlength=len(base.values)).astype(np.int64)
    try:
        fmt = decide_date_format(Cells(base.values, counts, base.index),
                                 name=cols.name("date"), given=date_format)
    except SchemaError:
        if date_fallback is None or date_format is not None:
            raise
        fmt = date_format_from_text(date_fallback)  # the cells cannot tell: as the model
    if date_format is not None and len(base.values) and not _reads_some(base.values, fmt):
        raise SchemaError(
            f"{shown(cols.name('date'))}: the date format {shown(date_format)} reads none of "
            f"the column's dates (such as {shown(base.values[0].as_py())}); give the format "
            "they are written in, or none to have it decided from the cells",
            parameter="date_formats", key=cols.name("date"))
    numbers = parts[0].number_format
    for part in parts[1:]:
        numbers = numbers.merged(part.number_format)
    by_position = {pos: name for name, pos in number_columns(parts[0].match).items()}
    mixed = {role: numbers.mixed.get(by_position.get(getattr(cols, role), ""), None)
             for role in ("amount", "quantity", "price")}
    uci = (any(p.uci_some for p in parts) and any(p.uci_digits for p in parts)
           and all(p.uci_every for p in parts))
    return Decisions(fmt, uci, parts[0].decimal, mixed, (raw, base))


def _reads_some(cells: pa.Array, fmt: DateFormat) -> bool:
    """Whether ``fmt`` reads at least one of the distinct date ``cells`` (the first
    thousand tell as a rule; all of them are tried before saying no)."""
    head = cells.slice(0, 1000)
    if (parse_dates(head, fmt).status == OK).any():
        return True
    return len(cells) > len(head) and bool((parse_dates(cells, fmt).status == OK).any())


def _readings(con: Any, cols: LogColumns, decided: Decisions) -> None:
    """Each distinct cell's reading, as a table to join: days, invoices, numbers (every
    cell read on its own, with the log-wide decisions); the date cells are the
    decisions' (:attr:`Decisions.date_cells`) when they have them."""
    if decided.date_cells is not None:
        raw, cells = decided.date_cells
    else:
        raw = _string(_distinct(con, "dt").column("raw"))
        cells = distinct_cells(raw)
    parsed = parse_dates(cells, decided.date_format)
    days = np.where(parsed.status == OK, parsed.days, np.nan)  # per cell of raw
    con.register("dates_t", pa.table({"raw": raw, "day": pa.array(days, from_pandas=True)}))
    con.execute("CREATE TABLE dates AS SELECT * FROM dates_t WHERE raw IS NOT NULL")
    con.unregister("dates_t")

    if cols.invoice is not None:
        invoices = _string(_distinct(con, "inv_odd").column("raw"))
        key = pc.utf8_trim_whitespace(invoices)
        key = pc.if_else(pc.equal(key, ""), pa.scalar(None, pa.string()), key)
    else:
        invoices = key = pa.array([], pa.string())
    con.register("inv_t", pa.table({"raw": invoices, "key": key}))
    con.execute("CREATE TABLE invoices AS SELECT * FROM inv_t WHERE raw IS NOT NULL")
    con.unregister("inv_t")

    for role in ("amount", "quantity", "price"):
        column = _RAW[role]
        raw = _string(_distinct(con, column).column("raw")) if getattr(cols, role) is not None \
            else pa.array([], pa.string())
        # amounts and prices are money, read as a customer table reads money ("$12.50",
        # "$1,000.00"), in the log's own unit; a quantity is a count
        numbers = parse_numbers(pd.Series(pd.arrays.ArrowExtensionArray(raw)),
                                decimal=decided.decimal, mixed=decided.mixed[role],
                                dollars=role != "quantity")
        values = np.where(numbers.status == OK, numbers.values, np.nan)
        con.register(f"{column}_t", pa.table({"raw": raw, "num": pa.array(values,
                                                                          from_pandas=True)}))
        con.execute(f"CREATE TABLE n_{column} AS SELECT * FROM {column}_t WHERE raw IS NOT NULL")
        con.unregister(f"{column}_t")


def _lines(con: Any, cols: LogColumns, decided: Decisions, *, cid: str) -> None:
    """The ``lines`` table: each line's customer (SQL ``cid``: :data:`_CID`, or a column
    read already), day, invoice, value, whether it is a return, and why it is not used
    (``reason``: the position of its reason in :data:`REASONS`; null for a line used)."""
    code = {reason: i for i, reason in enumerate(REASONS)}  # a byte a line, not text
    if cols.amount is not None:
        value, number_reasons = "a_num", f"WHEN a_num IS NULL THEN {code[BAD_AMOUNT]}"
    else:
        value = "q_num * p_num"
        number_reasons = (f"WHEN q_num IS NULL THEN {code[BAD_QUANTITY]} "
                          f"WHEN p_num IS NULL THEN {code[BAD_PRICE]}")
    ids = "LEFT JOIN ids i ON r.cust_odd = i.raw" if cid == _CID else ""
    con.execute(f"""
        CREATE TABLE lines AS
        WITH keyed AS (
            SELECT r.bad, r.h, d.day, na.num AS a_num, nq.num AS q_num, np_.num AS p_num,
                   {cid} AS cid,
                   coalesce(r.key0, iv.key) AS key
            FROM raw r
            {ids}
            LEFT JOIN dates d ON r.dt = d.raw
            LEFT JOIN invoices iv ON r.inv_odd = iv.raw
            LEFT JOIN n_a na ON r.a = na.raw
            LEFT JOIN n_q nq ON r.q = nq.raw
            LEFT JOIN n_p np_ ON r.p = np_.raw
        )
        SELECT cid, h, CAST(floor(day) AS INTEGER) AS day, key AS inv, {value} AS value,
               coalesce({decided.uci} AND starts_with(key, 'C')
                            AND regexp_matches(key, '{CANCELLATION}'), false)
                   OR ({value}) < 0 AS ret,
               CAST(CASE WHEN bad THEN {code[MALFORMED]}
                         WHEN cid IS NULL THEN {code[NO_CUSTOMER]}
                         WHEN day IS NULL THEN {code[BAD_DATE]}
                         {number_reasons}
                         WHEN NOT isfinite({value}) THEN {code[TOO_LARGE]}
                    END AS UTINYINT) AS reason
        FROM keyed
    """)
    # the lines replace the cells and their readings: their memory (and the spill
    # folder's space) goes to the customers' group-by
    con.execute("DROP TABLE raw; DROP TABLE dates; DROP TABLE invoices; DROP TABLE n_a; "
                "DROP TABLE n_q; DROP TABLE n_p" + ("; DROP TABLE ids" if ids else ""))


@dataclass(frozen=True)
class Sums:
    """One part of the customers' sums (every line of each customer in it): the
    group-by's columns, the lines read, the distinct lines, the lines excluded by
    reason."""

    customers: pa.Table
    read: int
    distinct_lines: int
    reasons: Mapping[str, int]


def _sums(con: Any) -> Sums:
    read, distinct_lines = con.execute("SELECT count(*), count(DISTINCT h) FROM lines"
                                       ).fetchone()
    reasons = dict(con.execute("SELECT reason, count(*) FROM lines WHERE reason IS NOT NULL "
                               "GROUP BY reason").fetchall())
    # frequency from the distinct orders (customer, invoice, else purchase day) apart:
    # a count(DISTINCT …) in the customers' group-by took as long as all else together.
    # Each step is a table of its own, so each spills on its own: as one query, the
    # orders' hash table, the sums' and the join's were held at once, and 4.2 million
    # customers ran out of memory at 350 MB (DuckDB could not spill them). (Sums by
    # order first, then by customer, scanned the lines once but held a table of every
    # order, and took longer.)
    con.execute("""
        CREATE TABLE orders AS
        SELECT cid, count(*) AS frequency FROM (
            SELECT DISTINCT cid, inv, CASE WHEN inv IS NULL THEN day END AS day
            FROM lines WHERE reason IS NULL AND NOT ret)
        GROUP BY cid
    """)
    con.execute("""
        CREATE TABLE sums AS
        SELECT cid,
               fsum(CASE WHEN ret THEN 0 ELSE value END) AS gross,
               fsum(CASE WHEN ret THEN abs(value) ELSE 0 END) AS returns_value,
               min(CASE WHEN NOT ret THEN day END) AS first_day,
               max(CASE WHEN NOT ret THEN day END) AS last_day
        FROM lines WHERE reason IS NULL GROUP BY cid
    """)
    con.execute("DROP TABLE lines")
    con.execute("""
        CREATE TABLE customers AS
        SELECT s.cid AS customer_id, coalesce(o.frequency, 0) AS frequency, s.gross,
               s.returns_value, s.first_day, s.last_day
        FROM sums s LEFT JOIN orders o ON s.cid = o.cid
    """)
    con.execute("DROP TABLE sums; DROP TABLE orders")
    result = con.sql("SELECT * FROM customers ORDER BY customer_id").to_arrow_table()
    return Sums(result, int(read), int(distinct_lines),
                {REASONS[int(k)]: int(v) for k, v in reasons.items()})


def finish(parts: Sums | list[Sums], cols: LogColumns, as_of_day: int | None) -> CustomerLog:
    """The customer table and summary from the sums of every part of a log (parts hold
    distinct customers; rows sorted by customer id as DuckDB sorts text)."""
    if isinstance(parts, Sums):
        result, read, distinct_lines = parts.customers, parts.read, parts.distinct_lines
        reasons = dict(parts.reasons)
    else:
        import duckdb

        if parts:
            together = pa.concat_tables([p.customers for p in parts])  # noqa: F841 - SQL's
            result = duckdb.sql("SELECT * FROM together ORDER BY customer_id"
                                ).to_arrow_table()
        else:  # no part with a line (decide refuses a log without one)
            result = pa.table({"customer_id": pa.array([], pa.string()),
                               "frequency": pa.array([], pa.int64()),
                               "gross": pa.array([], pa.float64()),
                               "returns_value": pa.array([], pa.float64()),
                               "first_day": pa.array([], pa.int64()),
                               "last_day": pa.array([], pa.int64())})
        read = sum(p.read for p in parts)
        distinct_lines = sum(p.distinct_lines for p in parts)
        reasons = {}
        for part in parts:
            for reason, n in part.reasons.items():
                reasons[reason] = reasons.get(reason, 0) + n
    excluded = {r: int(reasons[r]) for r in REASONS if r in reasons}
    table, as_of_text = _customers(result, as_of_day)
    summary = LogSummary(read=read, used=read - sum(excluded.values()), excluded=excluded,
                         duplicate_lines=read - distinct_lines, customers=table.num_rows,
                         columns=cols.taken(), as_of=as_of_text)
    return CustomerLog(table, summary, cols)


def _nullable_ints(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(np.where(valid, values, 0).astype(np.int64), mask=~valid)


#: Sums are rounded to 6 decimals below this size; above it a float64 has no digit
#: left at the sixth decimal (its spacing at 1e10 is 2e-6) and rounding, which scales by
#: 1e6, would only overflow (``np.round(1e305, 6)`` is inf).
_ROUNDED_BELOW = 1e10


def _money(values: np.ndarray) -> np.ndarray:
    """Sums without float noise (0.1 + 0.2 is written 0.3), and no -0; sums of
    :data:`_ROUNDED_BELOW` or more (and NaN) are kept as they are."""
    out = np.array(values, dtype=np.float64)  # a copy
    small = np.abs(out) < _ROUNDED_BELOW
    out[small] = np.round(out[small], 6)
    return out + 0.0


#: Customers turned into rows of the customer table at a time (:func:`_customers`).
_SLICE_ROWS = 500_000


def _customers(result: pa.Table, as_of_day: int | None) -> tuple[pa.Table, str | None]:
    """The customer table from the group-by's columns (one row per customer), made
    :data:`_SLICE_ROWS` customers at a time: the numpy work of the whole of 4.2 million
    customers at once held half a gigabyte of intermediate arrays."""
    bought_all = pc.greater(result.column("frequency"), 0)
    latest_scalar = pc.max(pc.filter(result.column("last_day"), bought_all)).as_py()
    latest = None if latest_scalar is None else int(latest_scalar)
    if as_of_day is None:
        if latest is not None and latest >= _LAST_DAY:
            raise ParameterError(
                f"the log's latest purchase is on {_iso(latest)}, the last day a date can "
                "be written, so the as-of date cannot be the day after it (the default); "
                "give the as-of date, such as that day", parameter="as_of", key=_iso(latest))
        as_of_day = None if latest is None else latest + 1
    elif latest is not None and as_of_day < latest:
        raise ParameterError(
            f"the as-of date {_iso(as_of_day)} is before the log's latest purchase "
            f"({_iso(latest)}); give a day on or after it", parameter="as_of")
    slices = [_customer_rows(result.slice(start, _SLICE_ROWS), as_of_day)
              for start in range(0, result.num_rows, _SLICE_ROWS)] or [
        _customer_rows(result, as_of_day)]
    table = pa.concat_tables(slices)
    assert tuple(table.column_names) == OUTPUT_COLUMNS
    return table, None if as_of_day is None else _iso(as_of_day)


def _customer_rows(result: pa.Table, as_of_day: int | None) -> pa.Table:
    """The rows of the customer table for some of the group-by's customers."""
    frequency = result.column("frequency").to_numpy().astype(np.int64)
    gross = result.column("gross").to_numpy(zero_copy_only=False).astype(np.float64)
    returns = result.column("returns_value").to_numpy(zero_copy_only=False).astype(np.float64)
    bought = frequency > 0
    first = pc.fill_null(result.column("first_day"), 0).to_numpy().astype(np.int64)
    last = pc.fill_null(result.column("last_day"), 0).to_numpy().astype(np.int64)
    monetary = _money(gross - returns)
    with np.errstate(divide="ignore", invalid="ignore"):
        # gross rounded first: a sum's last bits depend on the order DuckDB's threads
        # add lines in, and a quotient at a half (2980.27 / 32) would round either way
        aov = _money(np.where(bought, _money(gross) / np.maximum(frequency, 1), np.nan))
    if not (np.isfinite(monetary).all() and np.isfinite(returns).all()
            and np.isfinite(aov[bought]).all()):
        raise SchemaError("a customer's total is too large to represent (a sum beyond 1e308); "
                          "check the log's amounts, quantities and prices")
    recency = as_of_day - last if as_of_day is not None else last
    tenure = as_of_day - first if as_of_day is not None else first
    return pa.table({
        "customer_id": _string(result.column("customer_id")),
        "recency_days": _nullable_ints(recency, bought),
        "frequency": pa.array(frequency),
        "monetary": pa.array(monetary),
        "tenure_days": _nullable_ints(tenure, bought),
        "first_purchase": pa.array(first, mask=~bought).cast(pa.int32()).cast(pa.date32()),
        "last_purchase": pa.array(last, mask=~bought).cast(pa.int32()).cast(pa.date32()),
        "avg_order_value": pa.array(aov, mask=~bought),
        "returns_value": pa.array(_money(returns)),
    })
