"""What a file is, from its first bytes: its kind, its compression and, for text, its dialect.

Files are recognised by their content, not their name alone: a name that disagrees with
the content is refused with a message that says both, and anything that is not a
customer table (a pickle, a PDF, an old .xls) is refused by name.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from custseg.errors import InputFileError, shown

ACCEPTED = "CSV or TSV text (comma, semicolon or tab separated), Excel .xlsx, or Parquet"
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
#: How much of a file is read to tell what it is.
SNIFF_BYTES = 1 << 16


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


def _is_workbook(head: bytes) -> bool:
    """Whether a ZIP archive is an Excel workbook (its first entries say so)."""
    return b"[Content_Types].xml" in head or b"xl/" in head


def compression(head: bytes) -> str | None:
    """gzip / bz2 / xz / zip (a ZIP that is not an Excel workbook), else None."""
    kind = _kind_from_bytes(head)
    if kind == "zip":
        return None if _is_workbook(head) else "zip"
    return kind if kind in {"gzip", "bz2", "xz"} else None


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
        by_bytes = "excel" if _is_workbook(head) else "zip"
    if not head:
        raise InputFileError(f"{shown(name)} is empty (0 bytes). Expected {ACCEPTED}.")
    if by_bytes not in {"text", "excel", "parquet"}:
        hint = " custseg never loads pickles." if by_bytes == "pickle" else ""
        if by_bytes == "ole2" and "EncryptedPackage".encode("utf-16-le") in head:
            raise InputFileError(
                f"{shown(name)} is a password-protected (encrypted) Excel workbook; custseg "
                "cannot read it. Open it in Excel, remove the password (File > Info > "
                "Protect Workbook) and save it as .xlsx or CSV."
            )
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


def detect_dialect(head: bytes, stream: BinaryIO, name: str) -> Dialect:
    """The encoding, delimiter and decimal mark of a text table; binary data is refused.

    A semicolon-separated table writes its decimals with a comma.
    """
    encoding = detect_encoding(head, stream)
    text = head.decode(encoding, errors="ignore")
    if _control_share(text) > 0.05:
        raise InputFileError(f"{shown(name)} holds binary data, not text. Expected {ACCEPTED}.")
    delimiter = sniff_delimiter(text.lstrip("\ufeff"), Path(name).suffix.lower())
    return Dialect(encoding, delimiter, "," if delimiter == ";" else ".")


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


def _control_share(text: str) -> float:
    """Share of characters that never appear in a text table (control codes, NUL)."""
    if not text:
        return 0.0
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n") or ch == "\ufffd")
    return bad / len(text)
