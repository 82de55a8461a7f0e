"""Reading customer tables: CSV/TSV (dialect and encoding detected), Excel, Parquet.

Every cell is read as text, so customer ids keep their leading zeros and their digits
past 2^53, and missing markers stay missing; :mod:`custseg.table` parses values.
Files are recognised by their content, not their name alone, and streamed in batches
of rows so that a file of any length is read in bounded memory.

A CSV row with more or fewer fields than the header is never shifted into the wrong
columns: it keeps its place in the output with empty input cells, marked invalid, and
its line number and text in ``row_issues``.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import os
import tempfile
import weakref
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custseg.errors import InputFileError, SchemaError, shown
from custseg.table.fields import ID, INCOME, Ranges
from custseg.table.headers import HeaderMatch, match_headers
from custseg.table.notes import dollar_income_message, summary_row_notes
from custseg.table.validate import Validated, validate

ACCEPTED = "CSV or TSV text (comma, semicolon or tab separated), Excel .xlsx, or Parquet"
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SNIFF_BYTES = 1 << 16
DEFAULT_BATCH_ROWS = 250_000
COMPRESSED_SUFFIXES = {".gz", ".gzip", ".bz2", ".xz", ".zip"}


@dataclass(frozen=True)
class ReadLimits:
    """Caps that keep a hostile or accidental file from exhausting memory or disk.

    ``max_decompressed_bytes`` bounds what a compressed input may expand to (a
    decompression bomb stops there, with a message naming the limit); ``max_rows``
    bounds the rows read (None: no cap, for streamed scoring); ``max_columns`` bounds
    the header's width.
    """

    max_decompressed_bytes: int = 8 << 30
    max_rows: int | None = None
    max_columns: int = 20_000

    def describe_bytes(self) -> str:
        return f"{self.max_decompressed_bytes / (1 << 20):,.0f} MB"


@dataclass(frozen=True)
class Dialect:
    """How a text table is written."""

    encoding: str  # a Python codec name
    delimiter: str
    decimal: str

    def describe(self) -> str:
        names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
        return (
            f"{self.encoding}, {names.get(self.delimiter, repr(self.delimiter))}-separated, "
            f"decimal {'comma' if self.decimal == ',' else 'point'}"
        )


@dataclass
class Batch:
    """Some consecutive rows: every input column as text (``c0``, ``c1``, …)."""

    data: pa.Table
    #: Row (position within this batch) -> why the row could not be split into columns.
    structural: dict[int, str] = field(default_factory=dict)


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

    @property
    def n_rows(self) -> int:
        return self.data.num_rows

    @property
    def decimal(self) -> str:
        return self.dialect.decimal if self.dialect else "."

    def fields_frame(self) -> pd.DataFrame:
        """The canonical field columns, as text, under canonical names."""
        return fields_frame(self.data, self.match)

    def validated(self, needs: Sequence[str], ranges: Ranges) -> Validated:
        """Every row validated for the fields in ``needs`` (refused by name if absent),
        with this table's decimal mark, income unit and malformed rows."""
        self.match.require(needs)
        return validate(self.fields_frame(), required=needs, ranges=ranges,
                        decimal=self.decimal, income_unit=self.match.income_unit,
                        structural=self.structural)

    def to_pandas(self) -> pd.DataFrame:
        """All input columns, as text, under their original headers."""
        frame = self.data.to_pandas()
        frame.columns = list(self.header)
        return frame


def fields_frame(data: pa.Table, match: HeaderMatch) -> pd.DataFrame:
    """The canonical field columns as text, wrapping the arrow data without a copy."""
    return pd.DataFrame(
        {name: pd.arrays.ArrowExtensionArray(data.column(pos)) for name, pos in match.fields.items()},
        index=pd.RangeIndex(data.num_rows),
    )


# ------------------------------------------------------------------------ sniffing


_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PAR1", "parquet"),
    (b"\xd0\xcf\x11\xe0", "ole2"),
    (b"\x1f\x8b", "gzip"),
    (b"%PDF", "pdf"),
)


def _kind_from_bytes(head: bytes) -> str:
    """What the first bytes of a file say it is."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "pickle"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8)):
        return "text"
    if b"\x00" in head[:4096] and not _looks_utf16(head):
        return "binary"
    return "text"


def _looks_utf16(head: bytes) -> bool:
    sample = head[:4096]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    # Mostly-ASCII UTF-16 has a NUL in (nearly) every other byte, and only there.
    return max(even, odd) > 0.7 * half and min(even, odd) < 0.05 * half


_KIND_WORDS = {
    "zip": "a ZIP archive",
    "bz2": "a bzip2-compressed file",
    "xz": "an xz-compressed file",
    "parquet": "a Parquet file",
    "ole2": "an Excel 97-2003 (.xls) or other OLE2 document",
    "gzip": "a gzip-compressed file",
    "pdf": "a PDF document",
    "pickle": "a Python pickle",
    "binary": "binary data, not text",
    "excel": "an Excel workbook (.xlsx)",
    "text": "text",
}


def detect_kind(head: bytes, name: str) -> str:
    """``"text"``, ``"excel"`` or ``"parquet"``; anything else is refused clearly."""
    by_bytes = _kind_from_bytes(head)
    suffix = Path(name).suffix.lower()
    if by_bytes == "zip":
        by_bytes = "excel" if b"[Content_Types].xml" in head or b"xl/" in head else "zip"
    if not head:
        raise InputFileError(f"{shown(name)} is empty (0 bytes). Expected {ACCEPTED}.")
    if by_bytes not in {"text", "excel", "parquet"}:
        hint = " custseg never loads pickles." if by_bytes == "pickle" else ""
        if by_bytes == "ole2":
            hint = " Save it from Excel as .xlsx or CSV."
        raise InputFileError(
            f"{shown(name)} is {_KIND_WORDS[by_bytes]}, not a customer table.{hint} "
            f"Expected {ACCEPTED}."
        )
    expected = (
        "text" if suffix in TEXT_SUFFIXES
        else "excel" if suffix in EXCEL_SUFFIXES
        else "parquet" if suffix in PARQUET_SUFFIXES
        else None
    )
    if expected is not None and expected != by_bytes:
        raise InputFileError(
            f"{shown(name)} is named {suffix} but holds {_KIND_WORDS[by_bytes]}. Rename it "
            f"to match its content, or export it again. Expected {ACCEPTED}."
        )
    return by_bytes


def detect_encoding(head: bytes, stream: BinaryIO | None = None) -> str:
    """UTF-8 (with or without BOM), UTF-16 (BOM or clear NUL pattern), else Windows-1252.

    When ``stream`` is given the whole stream is checked as UTF-8 (incrementally, in
    bounded memory) before UTF-8 is chosen.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _looks_utf16(head):
        even = head[:4096][0::2].count(0)
        odd = head[:4096][1::2].count(0)
        return "utf-16-be" if even > odd else "utf-16-le"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        if stream is None:
            decoder.decode(head, final=False)
        else:
            stream.seek(0)
            while chunk := stream.read(1 << 20):
                decoder.decode(chunk, final=False)
            decoder.decode(b"", final=True)
            stream.seek(0)
        return "utf-8"
    except UnicodeDecodeError:
        if stream is not None:
            stream.seek(0)
        try:
            head.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"


def sniff_delimiter(text: str, suffix: str = "") -> str:
    """The delimiter (comma, semicolon, tab or pipe) that splits the first records most
    consistently into more than one field; comma when none does."""
    cut = max(text.rfind("\n"), text.rfind("\r"))
    sample = text[: cut + 1] if cut > 0 else text
    best, best_score = None, 0.0
    order = ["\t", ",", ";", "|"] if suffix in {".tsv", ".tab"} else [",", ";", "\t", "|"]
    for delim in order:
        counts = []
        try:
            for record in csv.reader(io.StringIO(sample, newline=""), delimiter=delim):
                if record:
                    counts.append(len(record))
                if len(counts) >= 50:
                    break
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = consistent * min(counts[0], 50) ** 0.5
        if score > best_score:
            best, best_score = delim, score
    return best or ","


# ------------------------------------------------------------------------- sources


class TableSource:
    """An input file opened for reading, in one pass or in batches.

    Parameters
    ----------
    source
        A path, or bytes (an upload) with ``name`` giving its file name.
    mapping, income_unit
        Passed to :func:`custseg.table.headers.match_headers`.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | bytes,
        *,
        name: str | None = None,
        mapping: Mapping[str, str] | None = None,
        income_unit: str | None = None,
        limits: ReadLimits | None = None,
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
            if not self.path.exists():
                raise InputFileError(f"{shown(str(self.path))} does not exist.")
            if self.path.is_dir():
                raise InputFileError(
                    f"{shown(str(self.path))} is a folder; give a file ({ACCEPTED})."
                )
        with self._open() as fh:
            head = fh.read(SNIFF_BYTES)
        compression = _compression(head)
        if compression is not None:
            self._decompress(compression)
        with self._open() as fh:
            head = fh.read(SNIFF_BYTES)
            if _compression(head) is not None:
                raise InputFileError(
                    f"{shown(self.name)} is compressed twice; decompress it first."
                )
            self.kind = detect_kind(head, self.name)
            self.dialect: Dialect | None = None
            if self.kind == "text":
                encoding = detect_encoding(head, fh)
                text = head.decode(encoding, errors="ignore")
                if _control_share(text) > 0.05:
                    raise InputFileError(
                        f"{shown(self.name)} holds binary data, not text. Expected {ACCEPTED}."
                    )
                delimiter = sniff_delimiter(text.lstrip("\ufeff"), Path(self.name).suffix.lower())
                self.dialect = Dialect(encoding, delimiter, "," if delimiter == ";" else ".")
        self.header = self._read_header()
        if not self.header:
            raise InputFileError(f"{shown(self.name)} has no header row. Expected {ACCEPTED}.")
        if len(self.header) > self.limits.max_columns:
            raise InputFileError(
                f"{shown(self.name)} has {len(self.header):,} columns; custseg reads at most "
                f"{self.limits.max_columns:,}. Keep the columns you need."
            )
        self.match = match_headers(self.header, mapping, income_unit)

    # -- compressed input -------------------------------------------------------

    def _decompress(self, compression: str) -> None:
        """Replace the source by its decompressed content, never beyond the byte cap."""
        cap = self.limits.max_decompressed_bytes
        outer = self.name
        with self._open() as raw:
            if compression == "zip":
                inner, name = self._zip_member(raw)
            else:
                opener = {
                    "gzip": lambda f: gzip.GzipFile(fileobj=f),
                    "bz2": bz2.BZ2File,
                    "xz": lzma.LZMAFile,
                }
                inner = opener[compression](raw)
                stem = Path(outer)
                name = stem.stem if stem.suffix.lower() in COMPRESSED_SUFFIXES else outer
            sink: io.BytesIO | tempfile._TemporaryFileWrapper
            sink = io.BytesIO() if self._bytes is not None else tempfile.NamedTemporaryFile(
                prefix="custseg-", suffix=Path(name).suffix, delete=False
            )
            total = 0
            try:
                with inner:
                    while chunk := inner.read(1 << 20):
                        total += len(chunk)
                        if total > cap:
                            raise InputFileError(
                                f"{shown(outer)} decompresses to more than "
                                f"{self.limits.describe_bytes()}, the limit for compressed "
                                "input; it is refused (a decompression bomb looks like this). "
                                "If the file is genuine, decompress it yourself or raise the "
                                "limit (--max-decompressed-mb)."
                            )
                        sink.write(chunk)
            except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
                self._discard(sink)
                raise InputFileError(
                    f"{shown(outer)} is a damaged {compression} file ({exc})."
                ) from None
            except InputFileError:
                self._discard(sink)
                raise
        self.compression = compression
        self.name = name
        if isinstance(sink, io.BytesIO):
            self._bytes = sink.getvalue()
        else:
            sink.close()
            self.path = Path(sink.name)
            weakref.finalize(self, os.unlink, sink.name)

    @staticmethod
    def _discard(sink) -> None:
        if not isinstance(sink, io.BytesIO):
            sink.close()
            os.unlink(sink.name)

    def _zip_member(self, raw: BinaryIO):
        try:
            archive = zipfile.ZipFile(raw)
        except zipfile.BadZipFile as exc:
            raise InputFileError(f"{shown(self.name)} is a damaged ZIP archive ({exc}).") from None
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            listed = ", ".join(repr(m.filename) for m in members[:5])
            raise InputFileError(
                f"{shown(self.name)} is a ZIP archive with {len(members)} files ({listed}); "
                "custseg reads a ZIP holding exactly one table."
            )
        member = members[0]
        if member.file_size > self.limits.max_decompressed_bytes:
            raise InputFileError(
                f"{shown(self.name)} holds {member.filename!r} of {member.file_size:,} bytes, "
                f"more than the {self.limits.describe_bytes()} limit for compressed input."
            )
        return archive.open(member), Path(member.filename).name

    # -- plumbing ---------------------------------------------------------------

    def _open(self) -> BinaryIO:
        if self._bytes is not None:
            return io.BytesIO(self._bytes)
        return open(self.path, "rb")  # noqa: SIM115 - closed by the callers' with-blocks

    def _text(self) -> io.TextIOWrapper:
        return io.TextIOWrapper(self._open(), encoding=self.dialect.encoding, newline="")

    def _read_header(self) -> tuple[str, ...]:
        if self.kind == "text":
            with self._text() as fh:
                try:
                    row = next(csv.reader(fh, delimiter=self.dialect.delimiter), None)
                except csv.Error as exc:
                    raise InputFileError(f"{shown(self.name)}: the header cannot be read ({exc}).") from None
                except UnicodeDecodeError as exc:
                    raise InputFileError(self._undecodable(exc)) from None
            return tuple(c.lstrip("\ufeff") for c in row) if row else ()
        if self.kind == "parquet":
            with self._open() as fh:
                try:
                    return tuple(pq.ParquetFile(fh).schema_arrow.names)
                except (pa.ArrowException, OSError) as exc:
                    raise InputFileError(
                        f"{shown(self.name)} is not a readable Parquet file ({exc})."
                    ) from None
        first = next(self._iter_excel(), None)
        return tuple(first) if first else ()

    @property
    def decimal(self) -> str:
        return self.dialect.decimal if self.dialect else "."

    def _names(self) -> list[str]:
        return [f"c{i}" for i in range(len(self.header))]

    # -- reading ----------------------------------------------------------------

    def batches(
        self, rows: int = DEFAULT_BATCH_ROWS, *, well_formed: bool | None = None
    ) -> Iterator[Batch]:
        """Consecutive batches of at most about ``rows`` rows, in file order.

        For text, ``well_formed`` says whether every row has the header's number of
        fields (:meth:`check_shape`); when None it is checked first, in one fast pass.
        Spreadsheet summary rows ("Total", "Average") are marked as not customers.
        """
        if self.kind == "text":
            if well_formed is None:
                well_formed = self.check_shape()
            raw = self._fast_text_batches(rows) if well_formed else self._exact_text_batches(rows)
        elif self.kind == "parquet":
            raw = self._parquet_batches(rows)
        else:
            raw = self._excel_batches(rows)
        yield from self._checked(raw)

    def _checked(self, raw: Iterator[Batch], annotate: bool = True) -> Iterator[Batch]:
        """Batches with the row cap and the income unit enforced, and (unless
        ``annotate`` is false, for a first pass that only counts) summary rows marked."""
        seen = 0
        for batch in self._decoded(raw):
            if seen == 0:
                self._check_income_unit(batch)
            seen += batch.data.num_rows
            self._check_row_cap(seen)
            if annotate:
                _mark_summary_rows(batch, self.match)
            yield batch

    def _check_row_cap(self, seen: int) -> None:
        cap = self.limits.max_rows
        if cap is not None and seen > cap:
            raise InputFileError(
                f"{shown(self.name)} has more than {cap:,} rows, the limit here. Score it "
                "with the command line (custseg score), which streams any number of rows."
            )

    def _decoded(self, raw: Iterator[Batch]) -> Iterator[Batch]:
        """Turn a decoding failure deep in a file into a clear refusal."""
        try:
            yield from raw
        except UnicodeDecodeError as exc:
            raise InputFileError(self._undecodable(exc)) from None

    def _undecodable(self, exc: UnicodeDecodeError) -> str:
        encoding = self.dialect.encoding if self.dialect else exc.encoding
        return (
            f"{shown(self.name)} is not valid {encoding} text ({exc.reason} near byte "
            f"{exc.start:,}). Save it again as UTF-8 CSV."
        )

    def _check_income_unit(self, batch: Batch) -> None:
        _check_income_unit(batch.data, self.match, self.decimal, self.name)

    def read(self) -> CustomerTable:
        """The whole table in memory; a header with no rows is refused."""
        batches: list[Batch] = []
        self.each_batch(DEFAULT_BATCH_ROWS, batches.append, batches.clear)
        data, structural, offset = [], {}, 0
        for batch in batches:
            data.append(batch.data)
            structural.update({offset + k: v for k, v in batch.structural.items()})
            offset += batch.data.num_rows
        if offset == 0:
            raise InputFileError(
                f"{shown(self.name)} has a header but no data rows; there is nothing to read."
            )
        table = pa.concat_tables(data)
        return CustomerTable(
            data=table,
            header=self.header,
            match=self.match,
            kind=self.kind,
            dialect=self.dialect,
            name=self.name,
            structural=structural,
        )

    def _fast_text_batches(self, rows: int, only: int | None = None) -> Iterator[Batch]:
        """pyarrow's multi-threaded reader; raises _Ragged at the first malformed row.

        With ``only``, just that column is converted (every row is still parsed and its
        number of fields checked), for a quick first pass.
        """
        names = [f"f{i}" for i in range(len(self.header))]
        keep = None if only is None else [names[only]]
        out_names = self._names() if only is None else [self._names()[only]]

        ragged: list[pacsv.InvalidRow] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            ragged.append(row)
            return "error"

        try:
            reader = pacsv.open_csv(
                self._open(),
                read_options=pacsv.ReadOptions(
                    autogenerate_column_names=True,
                    encoding=_arrow_encoding(self.dialect.encoding),
                    block_size=_block_size(rows),
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.dialect.delimiter,
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
                raise _Ragged() from None
            raise InputFileError(f"{shown(self.name)} cannot be read as CSV: {exc}") from None

    def column_pass(self, position: int, rows: int = DEFAULT_BATCH_ROWS) -> tuple[int, bool, pa.ChunkedArray]:
        """One quick pass converting a single column: (rows, well formed, that column).

        Text files are parsed in full (so malformed rows are found) but only one column is
        converted; the row cap applies. Other formats read the column alone.
        """
        chunks: list[pa.Array] = []
        count = [0]

        def visit(batch: Batch) -> None:
            count[0] += batch.data.num_rows
            self._check_row_cap(count[0])
            column = batch.data.column(0 if batch.data.num_columns == 1 else position)
            chunks.extend(column.chunks)

        well_formed = True
        if self.kind == "text":
            try:
                for batch in self._decoded(self._fast_text_batches(rows, only=position)):
                    visit(batch)
            except _Ragged:
                well_formed = False
                chunks.clear()
                count[0] = 0
                for batch in self._decoded(self._exact_text_batches(rows)):
                    visit(batch)
        else:
            raw = self._parquet_batches(rows) if self.kind == "parquet" else self._excel_batches(rows)
            for batch in self._decoded(raw):
                visit(batch)
        return count[0], well_formed, pa.chunked_array(chunks, type=pa.string())

    def check_shape(self) -> bool:
        """True when every row has as many fields as the header (one fast pass)."""
        if self.kind != "text":
            return True
        try:
            for _ in self._decoded(self._fast_text_batches(DEFAULT_BATCH_ROWS)):
                pass
        except _Ragged:
            return False
        return True

    def each_batch(
        self,
        rows: int,
        visit: Callable[[Batch], None],
        restart: Callable[[], None],
        annotate: bool = True,
    ) -> bool:
        """Visit every batch once, in order, in a single pass when the file is well formed.

        Returns whether every row had the header's number of fields. When a malformed
        row turns up, ``restart()`` is called and the exact reader visits every batch
        again from the top.
        """
        if self.kind != "text":
            raw = self._parquet_batches(rows) if self.kind == "parquet" else self._excel_batches(rows)
            for batch in self._checked(raw, annotate):
                visit(batch)
            return True
        try:
            for batch in self._checked(self._fast_text_batches(rows), annotate):
                visit(batch)
            return True
        except _Ragged:
            restart()
            for batch in self._checked(self._exact_text_batches(rows), annotate):
                visit(batch)
            return False

    def _exact_text_batches(self, rows: int) -> Iterator[Batch]:
        """Python's csv reader, row by row: slower, but keeps malformed rows in place."""
        n_cols = len(self.header)
        with self._text() as fh:
            reader = csv.reader(fh, delimiter=self.dialect.delimiter)
            next(reader, None)
            columns: list[list[str | None]] = [[] for _ in range(n_cols)]
            structural: dict[int, str] = {}
            count = 0
            line = reader.line_num
            for record in reader:
                start, line = line + 1, reader.line_num
                if not record:
                    continue
                if len(record) == n_cols:
                    for col, value in zip(columns, record, strict=True):
                        col.append(value)
                else:
                    for col in columns:
                        col.append(None)
                    text = self.dialect.delimiter.join(record)
                    where = f"line {start}" if start == line else f"lines {start}–{line}"
                    structural[count] = (
                        f"{where} has {len(record)} fields where the header has {n_cols}; "
                        f"not split into columns. Its text: {text!r}"
                    )
                count += 1
                if count == rows:
                    yield Batch(_strings(columns, self._names()), structural)
                    columns = [[] for _ in range(n_cols)]
                    structural, count = {}, 0
            if count:
                yield Batch(_strings(columns, self._names()), structural)

    def _parquet_batches(self, rows: int) -> Iterator[Batch]:
        with self._open() as fh:
            try:
                pf = pq.ParquetFile(fh)
                for record_batch in pf.iter_batches(batch_size=rows):
                    yield Batch(_all_text(pa.Table.from_batches([record_batch]), self._names()))
            except (pa.ArrowException, OSError) as exc:
                raise InputFileError(f"{shown(self.name)}: Parquet read failed ({exc}).") from None

    def _iter_excel(self) -> Iterator[list[str]]:
        from openpyxl import load_workbook

        with self._open() as fh:
            try:
                book = load_workbook(fh, read_only=True, data_only=True)
            except Exception as exc:  # openpyxl raises many types for broken files
                raise InputFileError(
                    f"{shown(self.name)} is not a readable Excel workbook ({type(exc).__name__}). "
                    f"Expected {ACCEPTED}."
                ) from None
            try:
                sheet = book.worksheets[0]
                # blank rows between data rows are rows; leading and trailing ones are not
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

    def _excel_batches(self, rows: int) -> Iterator[Batch]:
        n_cols = len(self.header)
        rows_iter = self._iter_excel()
        next(rows_iter, None)
        columns: list[list[str]] = [[] for _ in range(n_cols)]
        structural: dict[int, str] = {}
        count = 0
        for record in rows_iter:
            extra = record[n_cols:]
            if any(v != "" for v in extra):
                for col in columns:
                    col.append(None)
                structural[count] = (
                    f"has values beyond the {n_cols} header columns; not split into columns. "
                    f"Its values: {record!r}"
                )
            else:
                record = (record + [""] * n_cols)[:n_cols]
                for col, value in zip(columns, record, strict=True):
                    col.append(value)
            count += 1
            if count == rows:
                yield Batch(_strings(columns, self._names()), structural)
                columns, structural, count = [[] for _ in range(n_cols)], {}, 0
        if count:
            yield Batch(_strings(columns, self._names()), structural)


def _mark_summary_rows(batch: Batch, match: HeaderMatch) -> None:
    """Mark rows labelled "Total", "Average"… in the first or the id column."""
    if batch.data.num_columns == 0:
        return
    columns = [batch.data.column(0)]
    if ID in match.fields and match.fields[ID] != 0:
        columns.append(batch.data.column(match.fields[ID]))
    for column in columns:
        for row, note in summary_row_notes(column.to_pandas()).items():
            batch.structural.setdefault(row, note)


def _check_income_unit(data: pa.Table, match: HeaderMatch, decimal: str, name: str) -> None:
    """Refuse an income column with no unit in its header that holds dollars."""
    if INCOME not in match.fields or match.income_unit_source != "default":
        return
    column = data.column(match.fields[INCOME]).to_pandas()
    message = dollar_income_message(column, decimal, match.source(INCOME))
    if message:
        raise SchemaError(f"{shown(name)}: {message}", parameter="income_unit", key="$")


def _compression(head: bytes) -> str | None:
    """gzip / bz2 / xz / zip (a ZIP that is not an Excel workbook), else None."""
    kind = _kind_from_bytes(head)
    if kind == "zip":
        return None if (b"[Content_Types].xml" in head or b"xl/" in head) else "zip"
    return kind if kind in {"gzip", "bz2", "xz"} else None


class _Ragged(Exception):
    """A row with the wrong number of fields: switch to the exact reader."""


def _control_share(text: str) -> float:
    """Share of characters that never appear in a text table (control codes, NUL)."""
    if not text:
        return 0.0
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n") or ch == "\ufffd")
    return bad / len(text)


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding in {"utf-8", "utf-8-sig"} else encoding


def _block_size(rows: int) -> int:
    # About 40 bytes a row for a typical customer table, within pyarrow's sane limits.
    return int(min(max(rows * 40, 1 << 20), 1 << 28))


def _strings(columns: list[list[str | None]], names: list[str]) -> pa.Table:
    return pa.table({n: pa.array(c, type=pa.string()) for n, c in zip(names, columns, strict=True)})


def _empty(names: list[str]) -> pa.Table:
    return pa.table({n: pa.array([], type=pa.string()) for n in names})


def _all_text(table: pa.Table, names: list[str]) -> pa.Table:
    """Every column cast to text (nested values via their Python repr)."""
    out = []
    for column in table.columns:
        try:
            out.append(column.cast(pa.string()))
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            out.append(pa.array([None if v is None else str(v) for v in column.to_pylist()],
                                type=pa.string()))
    return pa.table(dict(zip(names, out, strict=True)))


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


def table_from_frame(
    frame: pd.DataFrame,
    name: str = "table",
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
) -> CustomerTable:
    """A DataFrame (any dtypes, any recognised headers) as a text :class:`CustomerTable`,
    with the same checks as a file (summary rows, an income column in dollars)."""
    header = tuple(str(c) for c in frame.columns)
    names = [f"c{i}" for i in range(len(header))]
    plain = frame.copy(deep=False)
    plain.columns = names
    data = _all_text(pa.Table.from_pandas(plain, preserve_index=False), names)
    match = match_headers(header, mapping, income_unit)
    _check_income_unit(data, match, ".", name)
    batch = Batch(data)
    _mark_summary_rows(batch, match)
    return CustomerTable(
        data=data, header=header, match=match, kind="frame", dialect=None, name=name,
        structural=batch.structural,
    )


def read_table(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    mapping: Mapping[str, str] | None = None,
    income_unit: str | None = None,
    limits: ReadLimits | None = None,
) -> CustomerTable:
    """Read a whole customer table (see :class:`TableSource`)."""
    return TableSource(
        source, name=name, mapping=mapping, income_unit=income_unit, limits=limits
    ).read()
