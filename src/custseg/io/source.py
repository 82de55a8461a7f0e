"""Reading customer tables: CSV/TSV (dialect and encoding detected), Excel, Parquet.

Every cell is read as text, so customer ids keep their leading zeros and their digits
past 2^53, and missing markers stay missing; :mod:`custseg.table` parses values.
Files are recognised by their content (:mod:`~custseg.io.sniff`), expanded when
compressed (:mod:`~custseg.io.decompress`), and streamed in batches of rows by the
format's reader (:mod:`~custseg.io.formats`), so that a file of any length is read in
bounded memory.

A CSV row with more or fewer fields than the header is never shifted into the wrong
columns: it keeps its place in the output with empty input cells, marked invalid, and
its line number and text in ``row_issues``.
"""

from __future__ import annotations

import io
import os
import stat
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa

from custseg.errors import InputFileError, SchemaError, shown
from custseg.io import formats
from custseg.io.decompress import decompress, megabytes, spool
from custseg.io.formats import Batch
from custseg.io.sniff import (
    ACCEPTED,
    SNIFF_BYTES,
    Dialect,
    compression,
    detect_dialect,
    detect_kind,
)
from custseg.table.fields import ID, INCOME, NUMERIC_FIELDS, Ranges
from custseg.table.headers import HeaderMatch, match_headers
from custseg.table.notes import (
    other_currency_message,
    summary_row_notes,
)
from custseg.table.parse import CONVERSION_ERRORS, NumberFormat, cell_text
from custseg.table.spec import InputSpec, source_key
from custseg.table.validate import Validated, validate

DEFAULT_BATCH_ROWS = 250_000
#: Cells in one batch at most: a wide table is read in batches of fewer rows.
BATCH_CELLS = 2_000_000
#: Rows a whole table read into memory may have unless told otherwise (fitting, suggesting,
#: comparing, reporting, the library's in-memory score): a fit of a million customers
#: peaks near 700 MB. Scoring a file streams, with no cap.
TABLE_MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class ReadLimits:
    """Caps that keep a hostile or accidental file from exhausting memory or disk.

    Every cap is applied before what it bounds is built: from a Parquet footer, a ZIP
    directory or a header when they tell, else as rows arrive, batch by batch.

    ``max_decompressed_bytes`` bounds what a compressed input may expand to (a
    decompression bomb stops there, with a message naming the limit; an .xlsx and the
    pages of a Parquet file count as compressed); ``max_rows`` bounds the rows read
    (None: no cap for streamed reads, :data:`TABLE_MAX_ROWS` for a whole table read
    into memory); ``max_columns`` bounds the header's width; ``max_cells`` bounds a
    spreadsheet's rows × header columns, since its blank rows cost nothing on disk.
    """

    max_decompressed_bytes: int = 8 << 30
    max_rows: int | None = None
    max_columns: int = 20_000
    max_cells: int = 50_000_000

    def table_rows(self) -> int:
        """The row cap of a whole-table read."""
        return self.max_rows if self.max_rows is not None else TABLE_MAX_ROWS


@dataclass
class CustomerTable:
    """A whole table in memory, columns kept as text under positional names."""

    data: pa.Table
    header: tuple[str, ...]
    match: HeaderMatch
    kind: str
    dialect: Dialect | None
    name: str
    structural: dict[int, str] = field(default_factory=dict)
    #: How the table writes its numbers (decided over every row; see NumberFormat).
    number_format: NumberFormat | None = None

    @property
    def n_rows(self) -> int:
        return self.data.num_rows

    @property
    def decimal(self) -> str:
        return self.dialect.decimal if self.dialect else "."

    def fields_frame(self) -> pd.DataFrame:
        """The canonical field columns, as text, under canonical names."""
        return fields_frame(self.data, self.match)

    def validated(self, needs: Sequence[str], ranges: Ranges,
                  spec: InputSpec | None = None) -> Validated:
        """Every row validated for the fields in ``needs`` (refused by name if absent),
        with this table's decimal mark, income unit and malformed rows; a model's other
        features (``spec``) read from their columns, found by header."""
        table = self.expect(needs, spec)
        return validate(table.fields_frame(), required=needs, ranges=ranges,
                        decimal=self.decimal, income_unit=table.match.income_unit,
                        structural=self.structural, number_format=self.number_format,
                        spec=spec, as_of=spec.fit_date if spec is not None else None)

    def expect(self, needs: Sequence[str], spec: InputSpec | None) -> CustomerTable:
        """This table as a model of ``needs`` and ``spec`` reads it (see
        :meth:`HeaderMatch.expect`)."""
        match = self.match.expect(needs, spec)
        return self if match is self.match else replace(self, match=match)


def number_columns(match: HeaderMatch) -> dict[str, int]:
    """The columns whose number format is decided over the whole file: the numeric
    fields (by field name) and every other column but the id (by :func:`source_key`), any
    of which a model's features may read."""
    out = {name: pos for name, pos in match.fields.items() if name in NUMERIC_FIELDS}
    used = set(match.fields.values())
    for pos, header in enumerate(match.columns):
        if pos not in used:
            out.setdefault(source_key(header), pos)
    return out


def fields_frame(data: pa.Table, match: HeaderMatch) -> pd.DataFrame:
    """The canonical field columns as text, wrapping the arrow data without a copy, then
    the columns a model's features read (``column:HEADER``, see
    :meth:`HeaderMatch.with_sources`)."""
    columns = {name: pd.arrays.ArrowExtensionArray(data.column(pos))
               for name, pos in match.fields.items()}
    for header, pos in match.sources.items():
        columns[source_key(header)] = pd.arrays.ArrowExtensionArray(data.column(pos))
    return pd.DataFrame(columns, index=pd.RangeIndex(data.num_rows))


class TableSource:
    """An input file opened for reading, in batches (:meth:`batches`) or whole (:meth:`read`).

    Parameters
    ----------
    source
        A path, or bytes (an upload) with ``name`` giving its file name.
    mapping, income_unit
        Passed to :func:`custseg.table.headers.match_headers`.
    well_formed
        Whether every row of this text file has the header's number of fields, when an
        earlier pass (in another process) found out; see :attr:`well_formed`.
    number_format
        How the file writes its numbers, when an earlier pass found out (over these
        files and others, for the Dask engine); see :attr:`number_format`.
    check_income
        Refuse an income column in another currency, or in dollars under a header that
        names no unit (as fitting and scoring must); False to read it as it is
        (inspecting a table only describes its columns).
    customer_fields
        Match the header to the customer-table fields (id, age, gender, income, score);
        False for a transaction log, whose roles are its own
        (:func:`custseg.table.transactions.find_columns`): no field is looked for, so a
        log is never refused over columns it does not use (an ``ID`` beside its
        ``Customer ID``, ``Gender`` beside ``Sex``), and :meth:`log_customer` says its
        customer column.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | bytes,
        *,
        name: str | None = None,
        mapping: Mapping[str, str] | None = None,
        income_unit: str | None = None,
        limits: ReadLimits | None = None,
        well_formed: bool | None = None,
        number_format: NumberFormat | None = None,
        check_income: bool = True,
        customer_fields: bool = True,
    ) -> None:
        self._cleanup: list[weakref.finalize] = []
        self._check_income = check_income
        self._customer_fields = customer_fields
        #: The positions whose number format is decided (None: every column's, see
        #: :func:`number_columns`); a log's, see :meth:`log_customer`.
        self._numbers: frozenset[int] | None = None
        #: How the file writes its numbers, decided once for the whole file: known after
        #: one whole pass of :meth:`batches` (None before), or as given.
        self.number_format = number_format
        try:
            self._setup(source, name, mapping, income_unit, limits, well_formed)
        except BaseException:
            self.close()  # a compressed input refused once expanded leaves no copy behind
            raise

    def _setup(
        self,
        source: str | os.PathLike[str] | bytes,
        name: str | None,
        mapping: Mapping[str, str] | None,
        income_unit: str | None,
        limits: ReadLimits | None,
        well_formed: bool | None,
    ) -> None:
        self.limits = limits or ReadLimits()
        self.compression: str | None = None
        if isinstance(source, bytes | bytearray | memoryview):
            self._bytes: bytes | None = bytes(source)
            self.path: Path | None = None
            self.name = name or "upload"
        else:
            self._bytes = None
            self.path = Path(source)
            self.name = name or self.path.name
            if not _is_file(self.path):
                self.name = name or str(self.path)  # "/dev/stdin", not "stdin"
                self._spool()  # a pipe or a device: read once, into a temporary file
        with self._open() as fh:
            head = fh.read(SNIFF_BYTES)
        self.compression = compression(head)
        if self.compression is not None:
            self._expand()
            with self._open() as fh:
                head = fh.read(SNIFF_BYTES)
            if compression(head) is not None:
                raise InputFileError(f"{shown(self.name)} is compressed twice; decompress it first.")
        self.kind = detect_kind(head, self.name)
        #: What a Parquet footer says (rows, expanded size), read before any row.
        self.parquet: formats.ParquetFacts | None = None
        self.dialect: Dialect | None = None
        if self.kind == "text":
            with self._open() as fh:
                self.dialect = detect_dialect(head, fh, self.name)
        #: Whether every row has the header's number of fields: known for text after
        #: one whole pass of :meth:`batches` (None before), always true for other kinds.
        self.well_formed = well_formed if self.kind == "text" else True
        with self._decoding():
            self.header = self._read_header()
        if not self.header:
            raise InputFileError(f"{shown(self.name)} has no header row. Expected {ACCEPTED}.")
        if len(self.header) > self.limits.max_columns:
            raise InputFileError(
                f"{shown(self.name)} has {len(self.header):,} columns; custseg reads at most "
                f"{self.limits.max_columns:,}. Keep the columns you need."
            )
        if not self._customer_fields:
            if mapping or income_unit is not None:
                raise ValueError("a mapping or an income unit needs the customer fields")
            self.match = HeaderMatch(columns=tuple(str(c) for c in self.header), fields={})
            return
        self.match = match_headers(self.header, mapping, income_unit)
        if self.number_format is not None:  # decided over the whole input already
            self.match = self.match.with_incomes_read(self.number_format.dollar_incomes)

    def _spool(self) -> None:
        """Replace a path that is not a regular file by a temporary copy of what it brings.

        A named pipe (``<(…)``, ``/dev/stdin`` fed by a pipe, a FIFO) can be read only
        once, and a table is read several times (its kind, its encoding, its rows), so
        it is copied first, at most ``max_decompressed_bytes`` of it. Its first bytes are
        looked at before the rest is copied: a stream of binary data (``/dev/zero``) is
        refused at once, not copied to the cap. A terminal, a socket or a block device
        is refused.
        """
        what = _special_kind(self.path)
        if what is not None:
            raise InputFileError(
                f"{shown(str(self.path))} is {what}, not a file custseg can read a table "
                f"from. Give a file ({ACCEPTED}), or pipe one in."
            )
        with open(self.path, "rb") as raw:
            if raw.isatty():
                raise InputFileError(
                    f"{shown(str(self.path))} is a terminal: custseg reads a table from a "
                    "file or a pipe, not typed in. Give a file name, or pipe a file in "
                    "(custseg … - < customers.csv)."
                )
            head = _read_head(raw)
            if compression(head) is None:
                detect_kind(head, self.name)  # empty, binary, a pickle…: refused now
            self.path = spool(raw, head, self.name, self.limits.max_decompressed_bytes,
                              adopt=self._adopt)

    def _expand(self) -> None:
        """Replace the source by its decompressed content (deleted with this object)."""
        spooled = self._cleanup[:]
        with self._open() as raw:
            content, self.name = decompress(raw, self.compression, self.name,
                                            self.limits.max_decompressed_bytes,
                                            in_memory=self._bytes is not None,
                                            adopt=self._adopt)
        if isinstance(content, bytes):
            self._bytes = content
        else:
            self.path = content
        for copy in spooled:  # the compressed copy of a pipe is not needed any more
            copy()

    def _adopt(self, path: Path) -> None:
        """Take charge of a temporary copy (a pipe's content, a decompressed input):
        removed by close(), else when this object goes, else at exit."""
        self._cleanup.append(weakref.finalize(self, _remove, path))

    def close(self) -> None:
        """Remove the temporary copies of the input (decompressed, or of a pipe) now."""
        for cleanup in self._cleanup:
            cleanup()

    def _open(self) -> BinaryIO:
        if self._bytes is not None:
            return io.BytesIO(self._bytes)
        return open(self.path, "rb")  # noqa: SIM115 - closed by the callers' with-blocks

    def _read_header(self) -> tuple[str, ...]:
        if self.kind == "text":
            return formats.text_header(self._open, self.dialect, self.name)
        if self.kind == "parquet":
            self.parquet = formats.parquet_facts(self._open, self.name)
            cap = self.limits.max_decompressed_bytes
            if self.parquet.expanded_bytes > cap:
                raise InputFileError(
                    f"{shown(self.name)} expands to {megabytes(self.parquet.expanded_bytes)} "
                    f"once its pages are decompressed, more than the {megabytes(cap)} limit "
                    "for compressed input. If the file is genuine, raise the limit",
                    parameter="max_decompressed_mb",
                )
            return self.parquet.header
        return formats.excel_header(self._open, self.name, self._sheet_limits())

    def _sheet_limits(self) -> formats.SheetLimits:
        return formats.SheetLimits(max_bytes=self.limits.max_decompressed_bytes,
                                   max_cells=self.limits.max_cells)

    @property
    def decimal(self) -> str:
        return self.dialect.decimal if self.dialect else "."

    def log_customer(self, position: int, numbers: Sequence[int | None] | None = None) -> None:
        """For a transaction log (``customer_fields=False``): its customer column, in
        which, as in a customer table's id column, rows labelled "Total" or "Average"
        are marked as no lines; and ``numbers``, the positions of the columns the log
        reads numbers from (amount, quantity, price; None for one it has not): the
        number format is decided over those only (a log's other columns, ids and
        invoices of digits, have no number to read, and looking at them took a sixth of
        a large log's reading)."""
        self.match = HeaderMatch(columns=self.match.columns, fields={ID: position})
        if numbers is not None:
            self._numbers = frozenset(p for p in numbers if p is not None)

    def expect(self, needs: Sequence[str], spec: InputSpec) -> None:
        """Locate the columns a model reads: the fields of ``needs`` and the columns of
        ``spec``'s features (refused, naming the first missing, before any row is read)."""
        self.match = self.match.expect(needs, spec)

    # -- reading ----------------------------------------------------------------

    def batches(self, rows: int = DEFAULT_BATCH_ROWS, *, column: int | None = None) -> Iterator[Batch]:
        """Every row once, in file order, in batches of about ``rows`` rows.

        Each batch has every input column; the row cap and the income unit are enforced
        and spreadsheet summary rows ("Total", "Average") marked. With ``column``, a
        batch has only that column and only the row cap is checked: a quick first pass.

        Text is read by pyarrow's fast reader until a row turns out to have more or
        fewer fields than the header; the exact reader then reads again from the top and
        goes on from the first row not yet given, so every row comes once. The pass
        records :attr:`well_formed`; a later pass over a malformed file takes the exact
        reader at once.
        """
        yield from self._batches(rows, column, self.limits.max_rows)

    def _batches(self, rows: int, column: int | None, cap: int | None,
                 whole: bool = False) -> Iterator[Batch]:
        if cap is not None and self.parquet is not None and self.parquet.n_rows > cap:
            self._refuse_rows(cap, whole, f" ({self.parquet.n_rows:,}, says its footer)")
        seen = 0
        numbers = number_columns(self.match)
        if self._numbers is not None:
            numbers = {name: pos for name, pos in numbers.items() if pos in self._numbers}
        columns = None
        if column is not None:  # the quick pass reads the number columns too, to decide
            columns = list(dict.fromkeys([column, *numbers.values()]))  # their format
        found = NumberFormat()
        with self._decoding():
            for batch in self._read(_batch_rows(rows, len(self.header)), columns):
                seen += batch.data.num_rows
                if cap is not None and seen > cap:
                    self._refuse_rows(cap, whole)
                if self.number_format is None:
                    found = found.seen({name: batch.data.column(formats.column_name(pos))
                                        for name, pos in numbers.items()}, self.decimal)
                if column is not None:
                    batch = Batch(batch.data.select([formats.column_name(column)]),
                                  batch.structural)
                else:
                    _mark_summary_rows(batch, self.match)
                yield batch
        if self.number_format is None:
            self.number_format = found
            self.match = self.match.with_incomes_read(found.dollar_incomes)

    def read(self) -> CustomerTable:
        """The whole table in memory (at most :meth:`ReadLimits.table_rows` rows); a
        header with no rows is refused."""
        data, structural, offset = [], {}, 0
        for batch in self._batches(DEFAULT_BATCH_ROWS, None, self.limits.table_rows(),
                                   whole=True):
            data.append(batch.data)
            structural.update({offset + k: v for k, v in batch.structural.items()})
            offset += batch.data.num_rows
        if offset == 0:
            raise InputFileError(
                f"{shown(self.name)} has a header but no data rows; there is nothing to read."
            )
        return CustomerTable(
            data=pa.concat_tables(data),
            header=self.header,
            match=self.match,
            kind=self.kind,
            dialect=self.dialect,
            name=self.name,
            structural=structural,
            number_format=self.number_format,
        )

    def _read(self, rows: int, columns: list[int] | None) -> Iterator[Batch]:
        """The format reader's batches (with ``columns`` only, when given; every column
        for Excel); for text, fast until a malformed row, then exact."""
        width = len(self.header)
        if self.kind == "parquet":
            yield from self._checked(
                formats.parquet_batches(self._open, rows, self.name, only=columns), columns)
            return
        if self.kind == "excel":
            yield from self._checked(
                formats.excel_batches(self._open, width, rows, self.name, self._sheet_limits()),
                columns)
            return
        given = 0
        if self.well_formed is not False:
            fast = formats.fast_text_batches(self._open, self.dialect, width, rows, self.name,
                                             only=columns)
            try:
                for batch in self._checked(fast, columns):
                    given += batch.data.num_rows
                    yield batch
            except formats.Ragged:
                self.well_formed = False
            else:
                self.well_formed = True
                return
        exact = formats.exact_text_batches(self._open, self.dialect, width, rows)
        yield from _after(self._checked(exact, columns), given)

    def _checked(self, raw: Iterator[Batch], columns: list[int] | None) -> Iterator[Batch]:
        """One reader's batches with its first batch's income column checked or, with
        ``columns``, cut to those columns."""
        seen = 0
        for batch in raw:
            if columns is not None:
                names = [formats.column_name(c) for c in columns]
                if batch.data.column_names != names:
                    batch = Batch(batch.data.select(names), batch.structural)
            elif seen == 0 and self._check_income:
                _check_income_unit(batch.data, self.match, self.name)
            seen += batch.data.num_rows
            yield batch

    def _refuse_rows(self, cap: int, whole: bool, said: str = "") -> None:
        if whole:
            raise InputFileError(
                f"{shown(self.name)} has more than {cap:,} rows{said}, the limit here: "
                "custseg holds the whole table in memory to fit, suggest, compare, report or "
                "show it, while scoring a file (custseg score) streams any number of rows. "
                "Take a sample of the rows, or raise the limit",
                parameter="max_rows",
            )
        raise InputFileError(
            f"{shown(self.name)} has more than {cap:,} rows{said}, the limit here. Score it "
            "with the command line (custseg score), which streams any number of rows."
        )

    @contextmanager
    def _decoding(self) -> Iterator[None]:
        """Turn a decoding failure deep in a file into a clear refusal."""
        try:
            yield
        except UnicodeDecodeError as exc:
            encoding = self.dialect.encoding if self.dialect else exc.encoding
            raise InputFileError(
                f"{shown(self.name)} is not valid {encoding} text ({exc.reason} near byte "
                f"{exc.start:,}). Save it again as UTF-8 CSV."
            ) from None


def _remove(path: Path) -> None:
    Path(path).unlink(missing_ok=True)


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (following links); a missing path or a folder
    is refused here, by name."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputFileError(f"{shown(str(path))} does not exist.") from None
    except NotADirectoryError:
        raise InputFileError(
            f"{shown(str(path))} does not exist (a part of it is a file, not a folder)."
        ) from None
    if stat.S_ISDIR(mode):
        raise InputFileError(f"{shown(str(path))} is a folder; give a file ({ACCEPTED}).")
    return stat.S_ISREG(mode)


def _special_kind(path: Path) -> str | None:
    """A special file custseg does not read from (a socket, a block device), in words;
    None for a named pipe or a character device, which are read (spooled)."""
    mode = path.stat().st_mode
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device (a disk)"
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return None
    return "not a regular file"


def _read_head(raw: BinaryIO) -> bytes:
    """The first :data:`SNIFF_BYTES` of a stream (a pipe gives them in pieces)."""
    parts, size = [], 0
    while size < SNIFF_BYTES and (part := raw.read(SNIFF_BYTES - size)):
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _batch_rows(rows: int, width: int) -> int:
    """Rows per batch: ``rows``, fewer for a wide table (at most :data:`BATCH_CELLS`
    cells, which every reader but pyarrow's builds before a column is picked)."""
    return max(1, min(rows, BATCH_CELLS // max(width, 1)))


def _after(batches: Iterator[Batch], skip: int) -> Iterator[Batch]:
    """The batches without their first ``skip`` rows."""
    for batch in batches:
        n = batch.data.num_rows
        if skip >= n:
            skip -= n
            continue
        if skip:
            batch = Batch(batch.data.slice(skip),
                          {k - skip: v for k, v in batch.structural.items() if k >= skip})
            skip = 0
        yield batch


def _mark_summary_rows(batch: Batch, match: HeaderMatch) -> None:
    """Mark rows labelled "Total", "Average"… in the first or the id column."""
    if batch.data.num_columns == 0:
        return
    columns = [batch.data.column(0)]
    if ID in match.fields and match.fields[ID] != 0:
        columns.append(batch.data.column(match.fields[ID]))
    for column in columns:
        # the arrow column as it is (to_pandas would make a Python string of every cell)
        cells = pd.Series(pd.arrays.ArrowExtensionArray(column))
        for row, note in summary_row_notes(cells).items():
            batch.structural.setdefault(row, note)


def _check_income_unit(data: pa.Table, match: HeaderMatch, name: str) -> None:
    """Refuse an income column that is in another currency on every row of the first
    batch. (One in dollars under a header that names no unit is read in dollars:
    :meth:`HeaderMatch.with_incomes_read`.)"""
    if INCOME not in match.fields:
        return
    column = data.column(match.fields[INCOME]).to_pandas()
    message = other_currency_message(column, match.source(INCOME))
    if message:
        raise SchemaError(f"{shown(name)}: {message}")


def table_from_frame(
    frame: pd.DataFrame,
    name: str = "table",
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
    *,
    check_income: bool = True,
) -> CustomerTable:
    """A DataFrame (any dtypes, any recognised headers) as a text :class:`CustomerTable`,
    with the same checks as a file (summary rows, an income column in dollars unless
    ``check_income`` is False; see :class:`TableSource`).

    A column arrow cannot convert as a whole (Python objects of mixed types: ints and
    text, bytes, Decimals, dates, nested lists, integers past 64 bits…) is read cell by
    cell as the text a file would hold (:func:`~custseg.table.parse.cell_text`), so that
    every row comes back, flagged where a value does not parse.
    """
    header = tuple(cell_text(c) or "" for c in frame.columns)
    plain = frame.copy(deep=False)
    plain.columns = formats.column_names(len(header))
    data = formats.as_text(pa.table({
        name: _column(plain.iloc[:, i]) for i, name in enumerate(plain.columns)}))
    match = match_headers(header, mapping, income_unit)
    if check_income:
        _check_income_unit(data, match, name)
    batch = Batch(data)
    _mark_summary_rows(batch, match)
    numbers = NumberFormat().seen({n: data.column(p) for n, p in number_columns(match).items()},
                                  ".")
    match = match.with_incomes_read(numbers.dollar_incomes)
    return CustomerTable(
        data=data, header=header, match=match, kind="frame", dialect=None, name=name,
        structural=batch.structural, number_format=numbers,
    )


#: Python-object columns arrow converts as they are: one kind of value throughout.
_ONE_KIND = frozenset({"string", "empty", "integer", "floating", "mixed-integer-float",
                       "boolean"})


def _column(values: pd.Series) -> pa.Array:
    """One frame column as arrow would convert it; a column of Python objects of mixed
    kinds as text cell by cell. Arrow would otherwise pick one type for the whole column
    and cast the rest to it (the integer 30 next to a date became 1970-01-01 00:00:00.00003),
    or refuse the column."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in _ONE_KIND:
        return pa.array([cell_text(v) for v in values.tolist()], type=pa.string())
    try:
        return pa.Array.from_pandas(values)
    except CONVERSION_ERRORS:
        return pa.array([cell_text(v) for v in values.tolist()], type=pa.string())


def read_table(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
    limits: ReadLimits | None = None,
    check_income: bool = True,
) -> CustomerTable:
    """Read a whole customer table (see :class:`TableSource`)."""
    return TableSource(
        source, name=name, mapping=mapping, income_unit=income_unit, limits=limits,
        check_income=check_income,
    ).read()
