"""Compressed input (gzip, bzip2, xz, a ZIP of one table), expanded never beyond a cap.

A decompression bomb (a few kilobytes that expand to gigabytes) stops at the cap with
a message naming it, and leaves nothing behind.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import signal
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from custseg.errors import InputFileError, shown

COMPRESSED_SUFFIXES = {".gz", ".gzip", ".bz2", ".xz", ".zip"}

_OPENERS = {
    "gzip": lambda f: gzip.GzipFile(fileobj=f),
    "bz2": bz2.BZ2File,
    "xz": lzma.LZMAFile,
}


def megabytes(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MB"


def decompress(
    raw: BinaryIO, compression: str, name: str, cap: int, *, in_memory: bool,
    adopt: Callable[[Path], object] | None = None,
) -> tuple[bytes | Path, str]:
    """The content of ``raw`` decompressed, and the name of the file it holds.

    The content is bytes when ``in_memory`` (an upload), else a temporary file the
    caller deletes when done. ``adopt`` is called with the temporary file's path as soon
    as it exists, with stop signals held back until it returns, so that the caller can
    take charge of it before anything can interrupt; the file is deleted here if
    decompression fails or is interrupted. More than ``cap`` bytes is refused.
    """
    if compression == "zip":
        inner, inner_name = _zip_member(raw, name, cap)
    else:
        inner = _OPENERS[compression](raw)
        path = Path(name)
        inner_name = path.stem if path.suffix.lower() in COMPRESSED_SUFFIXES else name

    def too_large() -> InputFileError:
        return InputFileError(
            f"{shown(name)} decompresses to more than {megabytes(cap)}, the limit for "
            "compressed input; it is refused (a decompression bomb looks like this). If the "
            "file is genuine, decompress it yourself or raise the limit",
            parameter="max_decompressed_mb",
        )

    try:
        with inner:
            content = _copy_capped(inner, b"", cap, Path(inner_name).suffix,
                                   in_memory=in_memory, adopt=adopt, too_large=too_large)
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, zlib.error) as exc:
        raise InputFileError(f"{shown(name)} is a damaged {compression} file ({exc}).") from None
    return content, inner_name


def spool(
    raw: BinaryIO, head: bytes, name: str, cap: int, *,
    adopt: Callable[[Path], object] | None = None,
) -> Path:
    """A pipe's (or a device's) content, ``head`` (already read from it) and the rest,
    copied to a temporary file that can be read as often as needed.

    The file is handed to ``adopt`` as :func:`decompress` does, and deleted here if the
    copy fails or is interrupted. More than ``cap`` bytes is refused.
    """
    def too_large() -> InputFileError:
        return InputFileError(
            f"{shown(name)} is a pipe or device bringing more than {megabytes(cap)}, the "
            "limit for input that custseg copies to a temporary file before reading it (as "
            "it must for a pipe, which can be read only once). Save it to a file and give "
            "that, or raise the limit",
            parameter="max_decompressed_mb",
        )

    content = _copy_capped(raw, head, cap, Path(name).suffix, in_memory=False, adopt=adopt,
                           too_large=too_large)
    assert isinstance(content, Path)
    return content


def _copy_capped(
    inner: BinaryIO, head: bytes, cap: int, suffix: str, *, in_memory: bool,
    adopt: Callable[[Path], object] | None, too_large: Callable[[], InputFileError],
) -> bytes | Path:
    """``head`` then the rest of ``inner``, in memory or in a temporary file (see
    :func:`decompress`); more than ``cap`` bytes raises ``too_large()``."""
    total = 0
    sink: io.BytesIO | tempfile._TemporaryFileWrapper | None = None
    held = _hold_stop_signals()
    try:
        # created, and handed over, while no stop signal can interrupt (Python's first
        # look at $TMPDIR leaves a probe file of its own when interrupted)
        sink = io.BytesIO() if in_memory else tempfile.NamedTemporaryFile(
            prefix="custseg-", suffix=suffix[:16], delete=False
        )
        if adopt is not None and not in_memory:
            adopt(Path(sink.name))
        held = _release(held)
        chunk = head
        while chunk or (chunk := inner.read(1 << 20)):
            total += len(chunk)
            if total > cap:
                raise too_large()
            sink.write(chunk)
            chunk = b""
        if not isinstance(sink, io.BytesIO):
            sink.close()
    except BaseException:  # the cap, a read error, or an interruption (a signal turned exception)
        _discard(sink)
        raise
    finally:
        _release(held)
    if isinstance(sink, io.BytesIO):
        return sink.getvalue()
    return Path(sink.name)


#: The signals a command is stopped by (the command line turns them into exceptions).
_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _hold_stop_signals() -> set[int] | None:
    """Block the stop signals in this thread (they stay pending); the previous mask."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _release(held: set[int] | None) -> None:
    """Restore the mask :func:`_hold_stop_signals` changed (pending signals arrive now)."""
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _discard(sink: io.BytesIO | tempfile._TemporaryFileWrapper | None) -> None:
    if sink is not None and not isinstance(sink, io.BytesIO):
        sink.close()
        Path(sink.name).unlink(missing_ok=True)


def _zip_member(raw: BinaryIO, name: str, cap: int) -> tuple[BinaryIO, str]:
    """The one file in a ZIP archive, opened, and its name."""
    try:
        archive = zipfile.ZipFile(raw)
    except zipfile.BadZipFile as exc:
        raise InputFileError(f"{shown(name)} is a damaged ZIP archive ({exc}).") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) != 1:
        listed = ", ".join(repr(m.filename) for m in members[:5])
        raise InputFileError(
            f"{shown(name)} is a ZIP archive with {len(members)} files ({listed}); "
            "custseg reads a ZIP holding exactly one table."
        )
    member = members[0]
    problem = unreadable_member(member)
    if problem:
        raise InputFileError(
            f"{shown(name)}: its file {shown(member.filename)} {problem}. Extract it yourself "
            "(unzip, 7-Zip) and give the table itself, or zip it again without a password "
            "and with the usual deflate compression."
        )
    if member.file_size > cap:
        raise InputFileError(
            f"{shown(name)} holds {member.filename!r} of {member.file_size:,} bytes, "
            f"more than the {megabytes(cap)} limit for compressed input."
        )
    return archive.open(member), Path(member.filename).name


#: The ZIP compression methods Python's zipfile decompresses.
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def unreadable_member(member: zipfile.ZipInfo) -> str | None:
    """Why a ZIP member cannot be read (encrypted, or compressed by a method zipfile does
    not implement, such as Windows' deflate64 for large files), in words; else None."""
    if member.flag_bits & 0x1:
        return "is encrypted (password-protected); custseg reads no encrypted archive"
    if member.compress_type not in _ZIP_METHODS:
        method = zipfile.compressor_names.get(member.compress_type, "an unknown method")
        return (
            f"is compressed with {method} (ZIP method {member.compress_type}), which custseg "
            "cannot decompress (it reads stored, deflate, bzip2 and lzma members)"
        )
    return None
