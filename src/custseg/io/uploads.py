"""Uploaded files (the dashboard's), read into custseg objects: bad input is only ever a
:class:`~custseg.errors.CustsegError`.

Each reader takes ``(name, data)`` — the file's name, which guides reading, and its
bytes — and calls the reader the command line uses too (:func:`read_table`,
:func:`model_from_bytes`, :meth:`Rulebook.from_toml`). Those say what is wrong in their
own words; what they do not catch yet (an error of the standard library's ZIP, TOML or
number parsers, a nesting too deep for the parser) is said here, naming the file and
what it was read as, instead of reaching the dashboard as an exception.
"""

from __future__ import annotations

import codecs
import functools
import tomllib
import zipfile
import zlib
from collections.abc import Callable
from typing import TypeVar

from custseg.errors import CustsegError, InputFileError, ModelFileError, shown
from custseg.io.model_files import model_from_bytes
from custseg.io.sniff import ACCEPTED
from custseg.io.source import CustomerTable, ReadLimits, read_table
from custseg.model.segmentation import SegmentationModel
from custseg.segments.profile import Rulebook, RulebookError
from custseg.table.headers import HeaderMatch

#: A rulebook is a few kilobytes of TOML; this is far beyond any real one.
MAX_RULEBOOK_BYTES = 1 << 20

#: What the standard library's parsers raise on malformed input, and custseg's readers
#: may let through: ZIP (an encrypted member is a RuntimeError, an unknown compression
#: method NotImplementedError), zlib, TOML, text decoding, number conversion, structure
#: of the wrong type (TypeError, KeyError, AttributeError, IndexError), nesting deeper
#: than the parser's recursion (RecursionError, a RuntimeError).
BAD_INPUT = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, tomllib.TOMLDecodeError,
             UnicodeError, ValueError, TypeError, KeyError, AttributeError, IndexError,
             OverflowError, EOFError, NotImplementedError, RuntimeError)

T = TypeVar("T")


def _refusing(kind: type[CustsegError], what: str, advice: str):
    """The reader, with the parsers' errors on bad input said as ``kind``."""

    def wrap(read: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(read)
        def run(name: str, data: bytes, *args, **kwargs) -> T:
            try:
                return read(name, data, *args, **kwargs)
            except CustsegError:
                raise
            except MemoryError:
                raise kind(f"{shown(name)} is too large to read here as {what}; {advice}") from None
            except BAD_INPUT as exc:
                raise kind(
                    f"{shown(name)} cannot be read as {what} ({_cause(exc)}); {advice}"
                ) from None

        return run

    return wrap


def _cause(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    said = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {shown(said[0], 80)}" if said else type(exc).__name__


@_refusing(InputFileError, "a customer table", f"expected {ACCEPTED}.")
def table(name: str, data: bytes, limits: ReadLimits | None = None, *,
          mapping: dict[str, str] | None = None,
          income_unit: str | None = None) -> CustomerTable:
    """An uploaded customer table (``mapping`` and ``income_unit`` as for
    :func:`read_table`: the dashboard's id column and income unit)."""
    return read_table(data, name=name, limits=limits, mapping=mapping, income_unit=income_unit)


@_refusing(ModelFileError, "a custseg model file",
           "it is damaged or was not written by custseg. Save the model again from custseg.")
def model(name: str, data: bytes, match: HeaderMatch | None = None) -> SegmentationModel:
    """An uploaded model file; with ``match`` (a table's columns), one that can assign
    that table's customers (it finds every field it clusters on)."""
    loaded = model_from_bytes(data, name=name)
    if match is not None:
        match.expect(loaded.encoding.needs, loaded.config.spec)
    return loaded


@_refusing(RulebookError, "a rulebook",
           "start from the rulebook this page offers for download, and keep its layout.")
def rulebook(name: str, data: bytes) -> str:
    """An uploaded rulebook's text (UTF-8 TOML), once it reads as a rulebook."""
    if len(data) > MAX_RULEBOOK_BYTES:
        raise RulebookError(
            f"{shown(name)} is {len(data) / (1 << 20):,.1f} MB; a rulebook is a small TOML "
            f"file (at most {MAX_RULEBOOK_BYTES >> 20} MB here)."
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in data:
        raise RulebookError(f"{shown(name)} is UTF-16 or binary, not UTF-8 text: TOML is "
                            "UTF-8. Save the rulebook as UTF-8.")
    try:
        text = data.decode("utf-8-sig")  # a BOM, as Windows editors write, is no error
    except UnicodeDecodeError as exc:
        raise RulebookError(
            f"{shown(name)} is not UTF-8 text (byte {exc.start + 1:,} is not UTF-8): TOML is "
            "UTF-8. Save the rulebook as UTF-8."
        ) from None
    Rulebook.from_toml(text)
    return text
