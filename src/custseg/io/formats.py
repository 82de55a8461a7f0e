"""One reader per format, each giving every cell as text in batches of rows.

Text has two readers: pyarrow's multi-threaded one, fast but able only to stop at a row
with the wrong number of fields (:class:`Ragged`), and Python's csv reader, slower but
keeping such a row in its place. :class:`custseg.io.source.TableSource` chooses between
them. Columns get positional names (``c0``, ``c1``, …), as headers may repeat or be blank.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custseg.errors import InputFileError, shown
from custseg.io.sniff import ACCEPTED, Dialect

#: Opens the (decompressed) input afresh, from its first byte.
Opener = Callable[[], BinaryIO]


@dataclass
class Batch:
    """Some consecutive rows: every input column as text (``c0``, ``c1``, …)."""

    data: pa.Table
    #: Row (position within this batch) -> why the row could not be split into columns.
    structural: dict[int, str] = field(default_factory=dict)


class Ragged(Exception):
    """A row with the wrong number of fields: switch to the exact reader."""


@dataclass(frozen=True)
class Unsplit:
    """A row that cannot be split into the header's columns: it keeps its place, with
    empty cells and this note."""

    note: str


def column_name(position: int) -> str:
    return f"c{position}"


def column_names(width: int) -> list[str]:
    return [column_name(i) for i in range(width)]


def in_batches(
    records: Iterable[Sequence[str] | Unsplit], width: int, rows: int
) -> Iterator[Batch]:
    """Records (each ``width`` cells, or :class:`Unsplit`) gathered into batches of ``rows``."""
    columns: list[list[str | None]] = [[] for _ in range(width)]
    structural: dict[int, str] = {}
    count = 0
    for record in records:
        if isinstance(record, Unsplit):
            structural[count] = record.note
            for column in columns:
                column.append(None)
        else:
            for column, cell in zip(columns, record, strict=True):
                column.append(cell)
        count += 1
        if count == rows:
            yield _batch(columns, structural)
            columns, structural, count = [[] for _ in range(width)], {}, 0
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
            out.append(pa.array([None if v is None else str(v) for v in column.to_pylist()],
                                type=pa.string()))
    return pa.table(dict(zip(column_names(table.num_columns), out, strict=True)))


# ---------------------------------------------------------------------------- text


def text_header(open_: Opener, dialect: Dialect, name: str) -> tuple[str, ...]:
    """The first record, BOM removed; decoding errors pass through to the caller."""
    with io.TextIOWrapper(open_(), encoding=dialect.encoding, newline="") as fh:
        try:
            row = next(csv.reader(fh, delimiter=dialect.delimiter), None)
        except csv.Error as exc:
            raise InputFileError(f"{shown(name)}: the header cannot be read ({exc}).") from None
    return tuple(c.lstrip("\ufeff") for c in row) if row else ()


def fast_text_batches(
    open_: Opener, dialect: Dialect, width: int, rows: int, name: str, only: int | None = None
) -> Iterator[Batch]:
    """pyarrow's multi-threaded reader; raises :class:`Ragged` at the first malformed row.

    With ``only``, just that column is converted (every row is still parsed and its
    number of fields checked), for a quick first pass.
    """
    names = [f"f{i}" for i in range(width)]
    keep = None if only is None else [names[only]]
    out_names = column_names(width) if only is None else [column_name(only)]

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
                include_columns=keep,
            ),
        )
        first = True
        for record_batch in reader:
            table = pa.Table.from_batches([record_batch]).rename_columns(out_names)
            if first:
                table, first = table.slice(1), False
            if table.num_rows:
                yield Batch(table)
    except pa.ArrowInvalid as exc:
        if ragged:
            raise Ragged() from None
        raise InputFileError(f"{shown(name)} cannot be read as CSV: {exc}") from None


def exact_text_batches(open_: Opener, dialect: Dialect, width: int, rows: int) -> Iterator[Batch]:
    """Python's csv reader, row by row: slower, but keeps malformed rows in place."""
    yield from in_batches(_text_records(open_, dialect, width), width, rows)


def _text_records(open_: Opener, dialect: Dialect, width: int) -> Iterator[list[str] | Unsplit]:
    with io.TextIOWrapper(open_(), encoding=dialect.encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=dialect.delimiter)
        next(reader, None)
        line = reader.line_num
        for record in reader:
            start, line = line + 1, reader.line_num
            if not record:
                continue
            if len(record) == width:
                yield record
                continue
            text = dialect.delimiter.join(record)
            where = f"line {start}" if start == line else f"lines {start}–{line}"
            yield Unsplit(
                f"{where} has {len(record)} fields where the header has {width}; "
                f"not split into columns. Its text: {text!r}"
            )


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding in {"utf-8", "utf-8-sig"} else encoding


def _block_size(rows: int) -> int:
    # About 40 bytes a row for a typical customer table, within pyarrow's sane limits.
    return int(min(max(rows * 40, 1 << 20), 1 << 28))


# ------------------------------------------------------------------------- Parquet


def parquet_header(open_: Opener, name: str) -> tuple[str, ...]:
    with open_() as fh:
        try:
            return tuple(pq.ParquetFile(fh).schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(f"{shown(name)} is not a readable Parquet file ({exc}).") from None


def parquet_batches(open_: Opener, rows: int, name: str) -> Iterator[Batch]:
    with open_() as fh:
        try:
            for record_batch in pq.ParquetFile(fh).iter_batches(batch_size=rows):
                yield Batch(as_text(pa.Table.from_batches([record_batch])))
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(f"{shown(name)}: Parquet read failed ({exc}).") from None


# --------------------------------------------------------------------------- Excel


def excel_rows(open_: Opener, name: str) -> Iterator[list[str]]:
    """The first sheet's rows as text, header first; blank rows between data rows are
    rows (empty lists), leading and trailing ones are not."""
    from openpyxl import load_workbook

    with open_() as fh:
        try:
            book = load_workbook(fh, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for broken files
            raise InputFileError(
                f"{shown(name)} is not a readable Excel workbook ({type(exc).__name__}). "
                f"Expected {ACCEPTED}."
            ) from None
        try:
            sheet = book.worksheets[0]
            blank, started = 0, False
            for row in sheet.iter_rows(values_only=True):
                if row is None or all(v is None or str(v).strip() == "" for v in row):
                    blank += started
                    continue
                for _ in range(blank):
                    yield []
                blank, started = 0, True
                yield [_excel_text(v) for v in row]
        finally:
            book.close()


def excel_batches(open_: Opener, width: int, rows: int, name: str) -> Iterator[Batch]:
    records = excel_rows(open_, name)
    next(records, None)
    yield from in_batches((_excel_record(r, width) for r in records), width, rows)


def _excel_record(record: list[str], width: int) -> list[str] | Unsplit:
    """A sheet row cut or padded to the header's width, unless it has values beyond it."""
    if any(v != "" for v in record[width:]):
        return Unsplit(
            f"has values beyond the {width} header columns; not split into columns. "
            f"Its values: {record!r}"
        )
    return (record + [""] * width)[:width]


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
