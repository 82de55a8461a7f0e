"""One reader per format, each giving every cell as text in batches of rows.

Text has two readers: pyarrow's multi-threaded one, fast but able only to stop at a row
with the wrong number of fields (:class:`Ragged`), and Python's csv reader, slower but
keeping such a row in its place. :class:`custseg.io.source.TableSource` chooses between
them. Columns get positional names (``c0``, ``c1``, …), as headers may repeat or be blank.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custseg.errors import InputFileError, shown
from custseg.io.decompress import unreadable_member
from custseg.io.sniff import ACCEPTED, Dialect
from custseg.table.parse import cell_text

#: Opens the (decompressed) input afresh, from its first byte.
Opener = Callable[[], BinaryIO]


@dataclass
class Batch:
    """Some consecutive rows: every input column as text (``c0``, ``c1``, …)."""

    data: pa.Table
    #: Row (position within this batch) -> why the row could not be split into columns.
    structural: dict[int, str] = field(default_factory=dict)
    #: The same rows with the input's own column types, for a reader that has them
    #: (Parquet): a Parquet output gives them back as they came.
    typed: pa.Table | None = None


class Ragged(Exception):
    """A row with the wrong number of fields (or longer than a block of the fast
    reader): switch to the exact reader."""


@dataclass(frozen=True)
class Unsplit:
    """A row that cannot be split into the header's columns: it keeps its place, with
    empty cells and this note."""

    note: str


@dataclass(frozen=True)
class Flagged:
    """A row kept with its cells, but flagged invalid with this note (a damaged cell)."""

    cells: Sequence[str]
    note: str


def column_name(position: int) -> str:
    return f"c{position}"


def column_names(width: int) -> list[str]:
    return [column_name(i) for i in range(width)]


def in_batches(
    records: Iterable[Sequence[str] | Unsplit | Flagged], width: int, rows: int,
    max_chars: int | None = None,
) -> Iterator[Batch]:
    """Records (each ``width`` cells, :class:`Unsplit` or :class:`Flagged`) gathered into
    batches of ``rows``, or fewer once a batch holds ``max_chars`` of text."""
    columns: list[list[str | None]] = [[] for _ in range(width)]
    structural: dict[int, str] = {}
    count = chars = 0
    for record in records:
        if max_chars is not None and not isinstance(record, Unsplit):
            size = sum(map(len, record.cells if isinstance(record, Flagged) else record))
            if chars + size > max_chars and count:
                yield _batch(columns, structural)
                columns, structural, count, chars = [[] for _ in range(width)], {}, 0, 0
            chars += size
        if isinstance(record, Unsplit):
            structural[count] = record.note
            for column in columns:
                column.append(None)
        elif isinstance(record, Flagged):
            structural[count] = record.note
            for column, cell in zip(columns, record.cells, strict=True):
                column.append(cell)
        else:
            for column, cell in zip(columns, record, strict=True):
                column.append(cell)
        count += 1
        if count == rows:
            yield _batch(columns, structural)
            columns, structural, count, chars = [[] for _ in range(width)], {}, 0, 0
    if count:
        yield _batch(columns, structural)


def _batch(columns: list[list[str | None]], structural: dict[int, str]) -> Batch:
    names = column_names(len(columns))
    return Batch(pa.table({name: pa.array(cells, type=pa.string())
                           for name, cells in zip(names, columns, strict=True)}), structural)


def as_text(table: pa.Table) -> pa.Table:
    """Every column cast to text (nested values via their Python repr), positionally named."""
    out = []
    for column in table.columns:
        try:
            out.append(column.cast(pa.string()))
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            out.append(pa.array([cell_text(v) for v in column.to_pylist()], type=pa.string()))
    return pa.table(dict(zip(column_names(table.num_columns), out, strict=True)))


# ---------------------------------------------------------------------------- text

#: The most lines one record may span. A quoted cell may hold line breaks (a note written
#: over a few lines); a quote that would carry a cell on over more lines than this is
#: taken for a stray one.
MAX_RECORD_LINES = 100

#: The longest row (its quoted line breaks included) the exact reader takes, in
#: characters: Python's csv reader holds a row's fields, and the field being read at
#: four bytes a character, so a row of this length costs a few hundred MB at most.
#: Python's own default (131,072 characters a field) is raised to it.
MAX_RECORD_CHARS = 32 << 20
#: Text one batch of the exact reader may hold (a few very long rows make batches of
#: fewer rows).
MAX_BATCH_CHARS = 64 << 20
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_CHARS))


@dataclass(frozen=True)
class _Broken:
    """A line whose quote would swallow the lines after it (or is never closed)."""

    why: str
    text: str
    after: int  # the lines it would have taken with it, read again on their own


class _Overlong(Exception):
    """The record being read passed :data:`MAX_RECORD_CHARS` (raised by :class:`_Lines`)."""


class _TooManyLines(Exception):
    """The record being read passed :data:`MAX_RECORD_LINES` (raised by :class:`_Lines`)."""


@dataclass(frozen=True)
class _Cut:
    """A physical line longer than :data:`MAX_RECORD_CHARS`: its start, the rest skipped."""

    start: str


class _Lines:
    """A text stream's physical lines for the csv reader, keeping the lines of the record
    being read (:attr:`taken`), so that they can be given again (:meth:`again`).

    A record is stopped, never held whole, once it spans more than
    :data:`MAX_RECORD_LINES` lines (:class:`_TooManyLines`) or more than
    :data:`MAX_RECORD_CHARS` characters (:class:`_Overlong`). A physical line longer than
    that is skipped to its end as it is read, and stands in :attr:`taken` as a
    :class:`_Cut`: a quote that never closes costs at most that many lines, read again.
    """

    def __init__(self, fh: io.TextIOBase) -> None:
        self._fh = fh
        self._again: list[str | _Cut] = []
        self.taken: list[str | _Cut] = []
        self.chars = 0  # characters of the record being read
        self.ended = False  # the stream ran out while the record was read

    def start_record(self) -> None:
        self.taken, self.chars, self.ended = [], 0, False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= MAX_RECORD_LINES:
            raise _TooManyLines()
        text = self._again.pop() if self._again else self._read()
        self.taken.append(text)
        if isinstance(text, _Cut):
            raise _Overlong()
        self.chars += len(text)
        if self.chars > MAX_RECORD_CHARS:
            raise _Overlong()
        return text

    def _read(self) -> str | _Cut:
        text = self._fh.readline(MAX_RECORD_CHARS + 1)
        if not text:
            self.ended = True
            raise StopIteration
        if len(text) <= MAX_RECORD_CHARS or text.endswith(("\n", "\r")):
            return text
        rest = text
        while rest and not rest.endswith(("\n", "\r")):  # skip to the end of the line
            rest = self._fh.readline(1 << 20)
        return _Cut(text[:300])

    def again(self, lines: list[str | _Cut]) -> None:
        self._again.extend(reversed(lines))


def _records(
    fh: io.TextIOBase, delimiter: str, width: int | None
) -> Iterator[tuple[int, int, list[str] | _Broken]]:
    """``(first line, last line, record)`` for every record, line numbers from 1.

    A quoted cell may span lines, but a record that does is kept only when it is well
    formed: every quote closes (before the end of the file) at the end of a cell, it
    spans at most :data:`MAX_RECORD_LINES` lines and (after the first record, the header,
    when ``width`` is given) it has ``width`` fields. Otherwise its first line is given as
    :class:`_Broken` and reading goes on from the next line, so that a stray quote never
    swallows the lines after it. A record on one line is read as written.
    """
    lines = _Lines(fh)
    reader = csv.reader(lines, delimiter=delimiter)
    number, header = 1, True
    while True:
        lines.start_record()
        try:
            record: list[str] | None = next(reader)
            why = None
        except StopIteration:
            return
        except csv.Error as exc:  # a cell past the csv module's field limit
            record, why = None, f"cannot be read as CSV ({exc})"
        except _TooManyLines:
            record, why = None, (f"opens a quote that runs on over more than "
                                 f"{MAX_RECORD_LINES} lines")
        except _Overlong:
            record, why = None, (
                f"is longer than {MAX_RECORD_CHARS:,} characters, more than custseg reads "
                "as one row" if len(lines.taken) == 1 else
                f"opens a quote that runs on past {MAX_RECORD_CHARS:,} characters")
        taken = lines.taken
        if not taken:
            return
        if why is None and (len(taken) > 1 or lines.ended):
            why = _spanning_problem(taken, record, delimiter, lines.ended,
                                    None if header else width, number)
        header = False
        if why is None:
            yield number, number + len(taken) - 1, record
            number += len(taken)
            continue
        first = taken[0]
        text = first.start + "…" if isinstance(first, _Cut) else first.rstrip("\r\n")
        yield number, number, _Broken(why, text, len(taken) - 1)
        lines.again(taken[1:])
        number += 1


def _spanning_problem(taken: list[str], record: list[str], delimiter: str, ended: bool,
                      width: int | None, first: int) -> str | None:
    """Why a record read over several lines (or up to the end of the file) is not one."""
    if ended:
        return "opens a quote that is never closed"
    last = first + len(taken) - 1
    if len(taken) > MAX_RECORD_LINES:
        return f"opens a quote that runs on over more than {MAX_RECORD_LINES} lines"
    try:
        strict = list(csv.reader(io.StringIO("".join(taken), newline=""),
                                 delimiter=delimiter, strict=True))
    except csv.Error:
        strict = []
    if len(strict) != 1:
        return f"opens a quote that does not close at the end of a cell (on lines {first}–{last})"
    if width is not None and len(record) != width:
        return (f"opens a quote that runs on to line {last}, making {len(record)} fields "
                f"where the header has {width}")
    return None


def text_header(open_: Opener, dialect: Dialect, name: str) -> tuple[str, ...]:
    """The first record, BOM removed; decoding errors pass through to the caller.

    A header whose quote is never closed, or would carry it on over the lines after it,
    is refused: the columns cannot be told.
    """
    with io.TextIOWrapper(open_(), encoding=dialect.encoding, newline="") as fh:
        first = next(_records(fh, dialect.delimiter, None), None)
    if first is None:
        return ()
    row = first[2]
    if isinstance(row, _Broken):
        raise InputFileError(
            f"{shown(name)}: the header (line 1) {row.why}, so its columns cannot be told: "
            f"{shown(row.text, 120)}. Remove the stray quote (\") or close it, and save the "
            "file again."
        )
    return tuple(c.lstrip("\ufeff") for c in row) if row else ()


def fast_text_batches(
    open_: Opener, dialect: Dialect, width: int, rows: int, name: str,
    only: Sequence[int] | None = None,
) -> Iterator[Batch]:
    """pyarrow's multi-threaded reader; raises :class:`Ragged` at the first malformed row.

    pyarrow reads a quoted cell over as many lines as it takes, so a row whose cell
    holds a line break, or a last line leaving a quote open, is also :class:`Ragged`:
    the exact reader decides whether the quote is a stray one. With ``only``, just those
    columns are given (every row is still parsed and checked), for a quick first pass.
    """
    if _last_line_open(open_, dialect):
        raise Ragged()
    names = [f"f{i}" for i in range(width)]
    out_names = column_names(width)
    keep = None if only is None else [column_name(i) for i in only]

    ragged: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        ragged.append(row)
        return "error"

    try:
        reader = pacsv.open_csv(
            open_(),
            read_options=pacsv.ReadOptions(
                autogenerate_column_names=True,
                encoding=_arrow_encoding(dialect.encoding),
                block_size=_block_size(rows),
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=dialect.delimiter,
                newlines_in_values=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        first = True
        for record_batch in reader:
            table = pa.Table.from_batches([record_batch]).rename_columns(out_names)
            if first:
                table, first = table.slice(1), False
            if _has_line_breaks(table):
                raise Ragged()
            if keep is not None:
                table = table.select(keep)
            if table.num_rows:
                yield Batch(table)
    except pa.ArrowInvalid as exc:
        if ragged or "straddl" in str(exc):  # a malformed row, or one longer than a block
            raise Ragged() from None
        raise InputFileError(f"{shown(name)} cannot be read as CSV: {exc}") from None


def _has_line_breaks(table: pa.Table) -> bool:
    """Whether any cell holds a line break (read from the raw buffers: no copy)."""
    for column in table.columns:
        for chunk in column.chunks:
            buffers = chunk.buffers()
            if len(chunk) == 0 or buffers[2] is None:
                continue
            width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
            offsets = np.frombuffer(buffers[1], dtype=width)
            lo, hi = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
            data = np.frombuffer(buffers[2], dtype=np.uint8)[lo:hi]
            if (data == 10).any() or (data == 13).any():
                return True
    return False


#: How much of a file's end is read to see whether its last line leaves a quote open.
_TAIL_BYTES = 1 << 16


def _last_line_open(open_: Opener, dialect: Dialect) -> bool:
    """Whether the file's last line might leave a quote open with no line break after
    it (pyarrow's reader closes such a quote at the end of the file, saying nothing)."""
    two = dialect.encoding.startswith("utf-16")
    with open_() as fh:
        size = fh.seek(0, io.SEEK_END)
        start = max(0, size - _TAIL_BYTES)
        start -= start % 2 if two else 0
        encoding = dialect.encoding
        if start and encoding in {"utf-16", "utf-8-sig"}:
            fh.seek(0)
            bom = fh.read(2)
            encoding = ("utf-8" if encoding == "utf-8-sig"
                        else "utf-16-be" if bom == codecs.BOM_UTF16_BE else "utf-16-le")
        fh.seek(start)
        tail = fh.read().decode(encoding, errors="replace")
    if not tail or tail[-1] in "\r\n":
        return False  # an open quote then holds that line break: seen in the cells
    cut = max(tail.rfind("\n"), tail.rfind("\r"))
    if cut < 0:
        return start > 0  # a last line longer than the tail: let the exact reader see
    try:
        list(csv.reader([tail[cut + 1:]], delimiter=dialect.delimiter, strict=True))
    except csv.Error:
        return True
    return False


def exact_text_batches(open_: Opener, dialect: Dialect, width: int, rows: int) -> Iterator[Batch]:
    """Python's csv reader, row by row: slower, but keeps malformed rows in place.

    A batch holds at most :data:`MAX_BATCH_CHARS` of text, however long its cells.
    """
    yield from in_batches(_text_records(open_, dialect, width), width, rows,
                          max_chars=MAX_BATCH_CHARS)


def _text_records(open_: Opener, dialect: Dialect, width: int) -> Iterator[list[str] | Unsplit]:
    with io.TextIOWrapper(open_(), encoding=dialect.encoding, newline="") as fh:
        records = _records(fh, dialect.delimiter, width)
        next(records, None)  # the header
        for start, line, record in records:
            if isinstance(record, _Broken):
                end = start + record.after
                again = ("" if not record.after else
                         f", and line {end}, which it would have joined to it, is read as a "
                         "row of its own" if record.after == 1 else
                         f", and lines {start + 1}–{end}, which it would have joined to it, "
                         "are read as rows of their own")
                yield Unsplit(
                    f"line {start} {record.why}; not split into columns{again}. "
                    f"Its text: {shown(record.text, 200)}"
                )
                continue
            if not record:
                continue
            if len(record) == width:
                yield record
                continue
            text = dialect.delimiter.join(record)
            where = f"line {start}" if start == line else f"lines {start}–{line}"
            yield Unsplit(
                f"{where} has {len(record)} fields where the header has {width}; "
                f"not split into columns. Its text: {_excerpt(text)}"
            )




def _excerpt(text: str, limit: int = 200) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding in {"utf-8", "utf-8-sig"} else encoding


#: The most text pyarrow's reader takes at a time. Its streaming reader keeps some forty
#: blocks in flight whatever the consumer does, so this bounds its memory (about 80 MB);
#: reading is no faster with larger blocks. A row longer than a block goes to the exact
#: reader.
MAX_BLOCK_BYTES = 2 << 20


def _block_size(rows: int) -> int:
    # About 40 bytes a row for a typical customer table.
    return int(min(max(rows * 40, 1 << 20), MAX_BLOCK_BYTES))


# ------------------------------------------------------------------------- Parquet


#: What one column of one row group may expand to (its pages, decompressed): the reader
#: holds a page at a time, and a dictionary page whole.
MAX_CHUNK_BYTES = 512 << 20
#: Values a column of lists may hold in one row group (each becomes Python text).
MAX_LIST_VALUES = 10_000_000
#: Text a Parquet batch may expand to: a batch whose dictionary-encoded cells would
#: decode to more is cut into smaller ones before decoding.
MAX_BATCH_BYTES = 64 << 20


@dataclass(frozen=True)
class ParquetFacts:
    """What a Parquet file's footer says, read before any row."""

    header: tuple[str, ...]
    n_rows: int
    expanded_bytes: int  # every page, decompressed


def parquet_facts(open_: Opener, name: str) -> ParquetFacts:
    """The column names, row count and expanded size from the footer alone; a column of
    one row group expanding past :data:`MAX_CHUNK_BYTES` is refused here."""
    with open_() as fh:
        try:
            meta = pq.ParquetFile(fh).metadata
            header = tuple(meta.schema.to_arrow_schema().names)
            nested = [meta.schema.column(c).max_repetition_level > 0
                      for c in range(meta.num_columns)]
            total = 0
            for g in range(meta.num_row_groups):
                group = meta.row_group(g)
                for c in range(group.num_columns):
                    size = group.column(c).total_uncompressed_size
                    total += size
                    if nested[c] and group.column(c).num_values > MAX_LIST_VALUES:
                        raise InputFileError(
                            f"{shown(name)}: the column {shown(group.column(c).path_in_schema)} "
                            f"holds lists of {group.column(c).num_values:,} values in row group "
                            f"{g + 1:,}; custseg reads one value a cell. Keep the customer "
                            "columns, or write the file as CSV."
                        )
                    if size > MAX_CHUNK_BYTES:
                        raise InputFileError(
                            f"{shown(name)}: the column {shown(group.column(c).path_in_schema)} "
                            f"of row group {g + 1:,} expands to {size / (1 << 20):,.0f} MB, "
                            f"more than the {MAX_CHUNK_BYTES >> 20} MB custseg reads at once. "
                            "Write the file again with smaller row groups, or as CSV."
                        )
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(f"{shown(name)} is not a readable Parquet file ({exc}).") from None
    return ParquetFacts(header, meta.num_rows, total)


def parquet_batches(open_: Opener, rows: int, name: str,
                    only: Sequence[int] | None = None) -> Iterator[Batch]:
    """Every row, ``rows`` at a time whatever the row groups (a row group of 300 million
    run-length-encoded rows is read in slices); with ``only``, just those columns (every
    column when the file repeats one of their names).

    A text column the file dictionary-encodes is read as a dictionary, and decoded in
    slices of at most :data:`MAX_BATCH_BYTES` of text: a few long values repeated by
    millions of tiny indices never become one huge batch.
    """
    with open_() as fh:
        try:
            file = pq.ParquetFile(fh)
            schema, meta = file.schema_arrow, file.metadata
            names = schema.names
            columns = None
            if only is not None and all(names.count(names[i]) == 1 for i in only):
                columns = [names[i] for i in only]
            encoded = {meta.row_group(g).column(c).path_in_schema
                       for g in range(meta.num_row_groups)
                       for c in range(meta.row_group(g).num_columns)
                       if meta.row_group(g).column(c).has_dictionary_page}
            text = [f.name for f in schema if f.name in encoded and (
                pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                or pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type))]
            fh.seek(0)
            reader = pq.ParquetFile(fh, read_dictionary=text or None)
            for record_batch in _row_group_batches(reader, rows, columns):
                table = pa.Table.from_batches([record_batch])
                if columns is not None:
                    table = table.select(columns)
                for part in _decodable(table):
                    out = as_text(part)
                    if columns is None:
                        yield Batch(out, typed=_as_written(part, schema))
                    else:
                        yield Batch(out.rename_columns([column_name(i) for i in only]))
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(f"{shown(name)}: Parquet read failed ({exc}).") from None


def _row_group_batches(reader: pq.ParquetFile, rows: int,
                       columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
    """The file's rows, ``rows`` at a time, read by a new batch reader for each row group:
    one reader over the whole file holds on to memory for every row group it has read
    (pyarrow 26: 30 MB more a row group of a million lines, 1.9 GB at the end of a log of
    50 million), a reader per row group gives it back when the next one starts."""
    for group in range(reader.metadata.num_row_groups):
        yield from reader.iter_batches(batch_size=rows, columns=columns, row_groups=[group])


def _as_written(part: pa.Table, schema: pa.Schema) -> pa.Table:
    """A slice of a Parquet file with the column types its schema gives (text read as a
    dictionary, to bound memory, back as text: the slice is already small)."""
    columns = [column if column.type == field.type else column.cast(field.type)
               for column, field in zip(part.columns, schema, strict=True)]
    return pa.Table.from_arrays(columns, schema=schema)


def _decodable(table: pa.Table) -> Iterator[pa.Table]:
    """``table`` in consecutive slices whose dictionary-encoded text decodes to at most
    :data:`MAX_BATCH_BYTES` each (one slice when it does already)."""
    per_row = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            for_rows = []
            for chunk in column.chunks:
                lengths = pc.fill_null(pc.binary_length(chunk.dictionary), 0)
                taken = pc.fill_null(lengths.take(chunk.indices), 0)
                for_rows.append(taken.to_numpy(zero_copy_only=False))
            if for_rows:
                per_row += np.concatenate(for_rows).astype(np.int64)
    if int(per_row.sum()) <= MAX_BATCH_BYTES:
        yield table
        return
    ends = np.cumsum(per_row)
    start = 0
    while start < table.num_rows:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + MAX_BATCH_BYTES, side="right"))
        stop = max(stop, start + 1)
        yield table.slice(start, stop - start)
        start = stop


# --------------------------------------------------------------------------- Excel


#: Excel's own limits: no worksheet has more rows or columns.
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384
#: What a workbook part may expand to while openpyxl loads the workbook: it reads the
#: shared strings, styles and theme whole, into Python objects (16 MB of shared strings
#: is some 600,000 strings, 15 s). Only the worksheet, read afterwards row by row, may be
#: larger.
MAX_PART_BYTES = 16 << 20
#: Excel's limit on the characters of one cell. A shared string is stored once and may be
#: used by every cell: a longer one is refused before any row is built (one 15 MB string
#: in 2,000 cells would be 30 GB of text).
EXCEL_CELL_CHARS = 32_767


@dataclass(frozen=True)
class SheetLimits:
    """Caps on a workbook, applied from its ZIP directory and as its rows are read."""

    max_bytes: int  # all its parts, expanded
    max_cells: int  # rows × header columns, blank rows included


def excel_header(open_: Opener, name: str, limits: SheetLimits) -> tuple[str, ...]:
    """The first non-blank row of the first sheet, up to its last non-empty cell.

    The sheet's declared size (its ``dimension``) is ignored: a small file can declare
    16,384 columns and a million rows. Trailing empty cells are not columns.
    """
    for _, cells, _problems in _sheet_rows(open_, name, limits):
        header = _dense(cells, None)
        if header:
            return tuple(header)
    return ()


def excel_batches(
    open_: Opener, width: int, rows: int, name: str, limits: SheetLimits
) -> Iterator[Batch]:
    """The data rows (after the header) of the first sheet, ``width`` cells each.

    Blank rows between data rows are rows (they keep the sheet's numbering), leading and
    trailing ones are not; rows left out of the file (a jump in row numbers) are blank
    rows too. A row with values beyond the header's columns is kept, unsplit; a row with
    a cell whose stored value contradicts its type (text in a number cell, a date serial
    no calendar has, a shared string the workbook lacks) keeps its cells as stored and is
    flagged with the cell's address (:class:`Flagged`). Nothing is
    built before the caps are checked: a sheet of more than ``limits.max_cells`` cells
    (rows × header columns, blank rows included) is refused when the count passes it.
    """
    yield from in_batches(_excel_records(open_, width, name, limits), width, rows)


def _excel_records(
    open_: Opener, width: int, name: str, limits: SheetLimits
) -> Iterator[list[str] | Unsplit | Flagged]:
    started, previous, blank, given = False, 0, 0, 0
    stored: list[np.ndarray] = []  # how many rows are stored up to each number
    for number, cells, problems in _sheet_rows(open_, name, limits, stored):
        skipped = max(number - previous - 1, 0)  # rows the file leaves out are blank
        if skipped and stored:  # but not those stored later, out of order
            skipped -= int(stored[0][number - 1] - stored[0][previous])
        previous = max(previous, number)  # a row stored out of order is kept where it is
        record = _dense(cells, width)
        if not started:  # up to and including the header
            started = bool(record)
            continue
        if record is None or record:
            blank += skipped
            total = (given + blank + 1) * max(width, 1)
            if total > limits.max_cells:
                raise InputFileError(
                    f"{shown(name)} has more than {limits.max_cells:,} cells (rows × the "
                    f"header's {width:,} columns, blank rows included), the most custseg "
                    "reads from a spreadsheet. Save the sheet as CSV, which has no such cap."
                )
            for _ in range(blank):
                yield [""] * width
            given += blank + 1
            blank = 0
            if record is None:
                yield _unsplit(cells, width)
            elif problems:
                yield Flagged(record, _damaged_note(problems))
            else:
                yield record
        else:
            blank += skipped + 1


def _dense(cells: list[tuple[int, str]], width: int | None) -> list[str] | None:
    """A row's cells as a list: ``width`` long, or up to its last non-empty cell when
    ``width`` is None; ``[]`` for a blank row; None for values beyond ``width``."""
    filled = [(column, text) for column, text in cells if text.strip() != ""]
    if not filled:
        return []
    last = max(column for column, _ in filled)
    if width is not None and last > width:
        return None
    out = [""] * (last if width is None else width)
    for column, text in filled:
        out[column - 1] = text
    return out


def _damaged_note(problems: list[str]) -> str:
    listed = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
    return (
        f"the workbook is damaged here: {listed}. The row is kept as stored but not used; "
        "fix the cell in Excel, or save the sheet again (as .xlsx or CSV)"
    )


def _unsplit(cells: list[tuple[int, str]], width: int) -> Unsplit:
    values = [text for _, text in cells if text.strip() != ""]
    listed = ", ".join(shown(v) for v in values[:10]) + (", …" if len(values) > 10 else "")
    return Unsplit(
        f"has values beyond the {width} header columns; not split into columns. "
        f"Its values: {listed}"
    )


def _sheet_rows(
    open_: Opener, name: str, limits: SheetLimits, stored: list[np.ndarray] | None = None,
) -> Iterator[tuple[int, list[tuple[int, str]], list[str]]]:
    """``(row number, [(column, text)], [problem])`` for each row stored in the first
    sheet, in the order stored, with only the cells stored (never padded to a declared
    size); a problem is a cell whose stored value contradicts its type, in words.

    Given a list ``stored``, a first quick look at the sheet's row tags puts in it, when
    its rows are stored out of order, the count of rows stored up to each row number.
    """
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.worksheet._reader import ROW_TAG
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    data_tag = f"{{{SHEET_MAIN_NS}}}sheetData"
    with open_() as fh:
        _check_workbook(fh, name, limits)
        try:
            reader = ExcelReader(fh, read_only=True, data_only=True, keep_links=False)
            reader.archive = archive = _CappedArchive(reader.archive)
            reader.read()
            book = reader.wb
            archive.capped = False  # the worksheet is read next, a row at a time
        except _PartTooLarge as exc:
            raise InputFileError(
                f"{shown(name)}: its part {shown(exc.part)} expands to more than the "
                f"{MAX_PART_BYTES >> 20} MB custseg reads of a workbook part other than its "
                "sheet (shared strings, styles). Save the sheet as CSV."
            ) from None
        except Exception as exc:  # openpyxl raises many types for broken files
            raise InputFileError(
                f"{shown(name)} is not a readable Excel workbook ({type(exc).__name__}). "
                f"Expected {ACCEPTED}."
            ) from None
        _check_shared_strings(reader.shared_strings, name)
        try:
            if not book.worksheets:
                return
            sheet = book.worksheets[0]
            if stored is not None:
                with sheet._get_source() as source:
                    counts = _stored_counts(source)
                if counts is not None:
                    stored.append(counts)
            with sheet._get_source() as source:
                parser = _cell_parser()(
                    source, sheet._shared_strings, data_only=True, epoch=book.epoch,
                    date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
                data = None
                for event, element in iterparse(source, events=("start", "end")):
                    if event == "start":
                        if element.tag == data_tag:
                            data = element
                        continue
                    if element.tag == data_tag:
                        break  # what follows the rows (merged cells, links…) is not data
                    if element.tag != ROW_TAG:
                        if data is None:
                            element.clear()
                        continue
                    yield _parsed_row(parser, element, name)
                    parser.row_dimensions.clear()  # row heights: not kept, a row at a time
                    element.clear()
                    if data is not None:
                        data.clear()
        except InputFileError:
            raise
        except Exception as exc:  # a damaged sheet: bad XML, a bad shared-string index…
            raise InputFileError(
                f"{shown(name)}: the first sheet cannot be read ({type(exc).__name__}: "
                f"{shown(str(exc), 120)}). Save it again from Excel, or as CSV."
            ) from None
        finally:
            book.close()


_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\b([^>]*)>")
_ROW_NUMBER = re.compile(rb"""\br\s*=\s*["']\s*(\d+)""")


def _stored_counts(source: BinaryIO) -> np.ndarray | None:
    """For a sheet whose rows are stored out of order, ``counts[n]`` = rows stored with
    a number up to ``n``; None when they are in order (the common case).

    Read from the row tags of the raw XML alone (a few hundred MB a second), numbering
    a row without ``r`` after the one before it, as openpyxl does.
    """
    numbers: list[int] = []
    last, carry = 0, b""
    while chunk := source.read(1 << 20):
        chunk = carry + chunk
        cut = chunk.rfind(b"<")
        cut = len(chunk) if cut < 0 or len(chunk) - cut > 4096 else cut
        for attrs in _ROW_TAG.findall(chunk, 0, cut):
            hit = _ROW_NUMBER.search(attrs)
            last = min(int(hit.group(1)), EXCEL_ROWS + 1) if hit else last + 1
            numbers.append(last)
        carry = chunk[cut:]
    for attrs in _ROW_TAG.findall(carry):
        hit = _ROW_NUMBER.search(attrs)
        last = min(int(hit.group(1)), EXCEL_ROWS + 1) if hit else last + 1
        numbers.append(last)
    if not numbers:
        return None
    order = np.asarray(numbers, dtype=np.int64)
    if (np.diff(order) >= 0).all():
        return None
    present = np.zeros(EXCEL_ROWS + 2, dtype=np.int64)
    present[order] = 1
    return np.cumsum(present)


def _parsed_row(parser, element, name: str) -> tuple[int, list[tuple[int, str]], list[str]]:
    number, cells = parser.parse_row(element)
    if number > EXCEL_ROWS or number < 1:
        raise InputFileError(
            f"{shown(name)} has a row numbered {number:,}, outside Excel's 1–{EXCEL_ROWS:,}: "
            "the workbook is damaged. Save it again from Excel, or as CSV."
        )
    out, problems = [], []
    for cell in cells:
        column = cell["column"]
        if not 1 <= column <= EXCEL_COLUMNS:
            raise InputFileError(
                f"{shown(name)} has a cell in column {column:,}, outside Excel's "
                f"1–{EXCEL_COLUMNS:,}: the workbook is damaged. Save it again from Excel, "
                "or as CSV."
            )
        out.append((column, _excel_text(cell["value"])))
        if "problem" in cell:
            problems.append(cell["problem"])
    return number, out, problems


@functools.cache
def _cell_parser() -> type:
    """openpyxl's sheet parser, keeping a cell whose stored value contradicts its type.

    openpyxl fails the whole sheet on text in a number cell (``ValueError``), a shared
    string index the workbook lacks (``IndexError``) or a date that is no ISO date, and
    turns a date serial outside the calendar into ``#VALUE!``, dropping what is stored.
    Here such a cell keeps its stored text (a missing shared string: empty) and carries
    a ``problem``, which flags its row.
    """
    from openpyxl.utils import coordinate_to_tuple, get_column_letter
    from openpyxl.utils.datetime import from_excel
    from openpyxl.worksheet._reader import VALUE_TAG, WorkSheetParser, _cast_number

    kinds = {"n": "a number", "d": "a date", "b": "TRUE or FALSE", "e": "an error value"}

    class CellParser(WorkSheetParser):
        def parse_cell(self, element):
            kind = element.get("t", "n")
            raw = element.findtext(VALUE_TAG, None) or None
            try:
                if kind == "n" and raw is not None:
                    self._check_date(element, raw)
                return super().parse_cell(element)
            except (ValueError, IndexError, TypeError, OverflowError, KeyError) as exc:
                coordinate = element.get("r")
                if coordinate:
                    row, column = coordinate_to_tuple(coordinate)  # a bad address: re-raised
                else:
                    row, column = self.row_counter, self.col_counter
                    coordinate = f"{get_column_letter(column)}{row}"
                shown_raw = shown(raw or "", 40)
                style = element.get("s")
                if style and not style.isdigit():
                    problem = f"has the style {shown(style, 20)}, which is no style number"
                elif isinstance(exc, _BadDate):
                    problem = (f"is formatted as a date but holds {shown_raw}, a serial no "
                               "calendar date has")
                elif kind == "s":
                    problem = (f"refers to shared text number {shown_raw}, which the "
                               f"workbook does not have (it has {len(self.shared_strings):,}); "
                               "left empty")
                    raw = None
                elif kind in kinds:
                    problem = f"is stored as {kinds[kind]} but holds {shown_raw}"
                else:
                    problem = f"has the unknown type {shown(kind, 20)} and holds {shown_raw}"
                return {"row": row, "column": column, "value": raw, "data_type": "s",
                        "style_id": 0, "problem": f"cell {coordinate} {problem}"}

        def _check_date(self, element, raw: str) -> None:
            style = element.get("s")
            if not style or not style.isdigit() or int(style) not in self.date_formats:
                return
            value = _cast_number(raw)
            try:
                from_excel(value, self.epoch,
                           timedelta=int(style) in self.timedelta_formats)
            except (OverflowError, ValueError):
                raise _BadDate() from None

    return CellParser


class _BadDate(ValueError):
    """A number cell formatted as a date whose serial is no date."""


def _check_workbook(fh: BinaryIO, name: str, limits: SheetLimits) -> None:
    """Refuse a workbook whose parts expand past the caps, from its ZIP directory alone
    (a ZIP member cannot expand past the size its directory declares)."""
    try:
        members = zipfile.ZipFile(fh).infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        members = []  # openpyxl says it is not a workbook
    fh.seek(0)
    for member in members:
        problem = unreadable_member(member)
        if problem:
            raise InputFileError(
                f"{shown(name)}: its part {shown(member.filename)} {problem}. Open the "
                "workbook in Excel and save it again as .xlsx without a password, or save "
                "the sheet as CSV."
            )
    total = sum(member.file_size for member in members)
    if total > limits.max_bytes:
        raise InputFileError(
            f"{shown(name)} expands to {total / (1 << 20):,.0f} MB, more than the "
            f"{limits.max_bytes / (1 << 20):,.0f} MB limit for compressed input (an .xlsx is "
            "a ZIP archive). If the file is genuine, save it as CSV or raise the limit",
            parameter="max_decompressed_mb",
        )


def _check_shared_strings(strings, name: str) -> None:
    """Refuse a workbook whose shared strings hold a text longer than Excel allows."""
    for index, text in enumerate(strings):
        if isinstance(text, str) and len(text) > EXCEL_CELL_CHARS:
            raise InputFileError(
                f"{shown(name)}: its shared string {index + 1:,} holds {len(text):,} "
                f"characters, more than the {EXCEL_CELL_CHARS:,} Excel allows in a cell: "
                "the workbook was not written by Excel, or is damaged. Save the sheet as CSV."
            )


class _PartTooLarge(Exception):
    def __init__(self, part: str) -> None:
        self.part = part


class _CappedArchive:
    """A workbook's ZIP archive whose parts may not expand past :data:`MAX_PART_BYTES`
    while :attr:`capped` (while openpyxl loads the workbook's other parts)."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive
        self.capped = True

    def __getattr__(self, attribute: str):
        return getattr(self._archive, attribute)

    def read(self, member, *args):
        if self.capped and self._archive.getinfo(member).file_size > MAX_PART_BYTES:
            raise _PartTooLarge(str(member))
        return self._archive.read(member, *args)

    def open(self, member, *args, **kwargs):
        stream = self._archive.open(member, *args, **kwargs)
        # a worksheet is parsed as a stream, never held whole: openpyxl may scan one
        # that declares no size (openpyxl's write-only files), which costs no memory
        if not self.capped or str(member).startswith("xl/worksheets/"):
            return stream
        return _CappedStream(stream, str(member))


class _CappedStream:
    """A part opened while the archive is capped: it may be read up to the cap (a sheet
    is opened then only to find its declared size, which custseg ignores)."""

    def __init__(self, stream, part: str) -> None:
        self._stream, self._part, self._read = stream, part, 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._read += len(data)
        if self._read > MAX_PART_BYTES:
            raise _PartTooLarge(self._part)
        return data

    def __getattr__(self, attribute: str):
        return getattr(self._stream, attribute)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._stream.close()


def _excel_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 30.0 -> "30"; 1e20 -> "100000000000000000000", not "1e+20"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
